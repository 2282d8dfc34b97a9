/**
 * virt-install's kickstart idiom, as typed, through a real install of the tiny guest under TCG:
 * `--initrd-inject ks.cfg --extra-args "inst.ks=file:/ks.cfg console=ttyS0"` with a virtio NIC
 * (`--network user,model=virtio`). The user's kickstart is the answer file (its %post prints a
 * marker on the install console), the confirmation unit is appended to it, the
 * kernel command line carries each argument once, and the confirm boot sees virtio-net (1af4:1041).
 * (`--boot uefi`, install and confirm boot through OVMF and the disk's EFI boot loader: uefi-tpm.test.ts.)
 */
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alive, killLeft, runCliWatched } from '../../helpers/processes.js';
import { type Bed, ensureBed } from '../bed/index.js';

/** what the user's %post prints: computed by the shell, so the kickstart's own text never matches it */
const MARKER = 'USER-KICKSTART-POST-RAN-42';

const KICKSTART = `# the user's own kickstart
text
lang en_US.UTF-8
keyboard us
timezone UTC
rootpw --lock
ignoredisk --only-use=vda
clearpart --all --initlabel
autopart
bootloader --location=mbr
network --bootproto=dhcp
poweroff
%packages
@core
%end
%post --nochroot
echo USER-KICKSTART-POST-RAN-$((6*7)) > /dev/console
%end
`;

describe('e2e: virt-install kickstart idiom with a virtio NIC (tiny guest, single TCG)', function () {
  this.timeout(240_000);
  let bed: Bed;
  let tmp: string;
  const started: number[] = [];

  before(async function () {
    this.timeout(15 * 60_000);
    bed = await ensureBed();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-idiom-'));
  });
  after(async () => {
    killLeft(started);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it("installs with the user's kickstart, confirms, and the guest sees virtio-net 1af4:1041", async () => {
    await fs.writeFile(path.join(tmp, 'ks.cfg'), KICKSTART);
    const logDir = path.join(tmp, 'idiom-logs');
    const r = await runCliWatched(
      [
        'install',
        '--name',
        'idiom',
        '--boot',
        `kernel=${bed.media.treeKernel},initrd=${bed.media.treeInitrd}`,
        '--initrd-inject',
        'ks.cfg',
        '--extra-args',
        'inst.ks=file:/ks.cfg console=ttyS0',
        '--osinfo',
        'detect=on,require=off',
        '--disk',
        'size=1',
        '--virt-type',
        'qemu',
        '--memory',
        '512',
        '--network',
        'user,model=virtio',
        '--noautoconsole',
        '--log-dir',
        logDir,
        '--json',
      ],
      tmp,
      (pid) => started.push(pid),
    );
    expect(r.code, r.stderr + r.stdout.slice(-3000)).to.equal(0);
    for (const pid of r.pids) expect(alive(pid), `qemu ${pid} still running`).to.equal(false);
    const lines = r.stdout.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1]!) as {
      verdict: string;
      answerFile: string;
      phases: { install: { serialLog: string }; confirm: { serialLog: string } };
    };
    expect(result.verdict).to.equal('confirmed');

    // the install boot's kernel command line: each argument once, the answer file named once
    const installArgs = (await fs.readFile(path.join(logDir, 'install.args'), 'utf8')).split('\n');
    const append = installArgs[installArgs.indexOf('-append') + 1]!.split(' ');
    expect(append.filter((a) => a === 'console=ttyS0')).to.have.length(1);
    expect(append.filter((a) => /^(inst\.)?ks=/.test(a))).to.deep.equal(['inst.ks=file:/ks.cfg']);
    expect(installArgs.some((a) => a.startsWith('virtio-net-pci,'))).to.equal(true);

    // the answer file is the user's, with the confirmation unit appended (redacted copy in the log dir)
    const used = await fs.readFile(result.answerFile, 'utf8');
    expect(used.startsWith("# the user's own kickstart\n")).to.equal(true);
    expect(used).to.include('USER-KICKSTART-POST-RAN-$((6*7))');
    expect(used).to.not.include(MARKER);
    expect(used).to.include('install-guest-confirm');

    // the user's %post ran: it printed its marker on the install boot's console
    const installLog = await fs.readFile(result.phases.install.serialLog, 'utf8');
    expect(installLog).to.include(MARKER);
    const confirmLog = await fs.readFile(result.phases.confirm.serialLog, 'utf8');
    const { parseConfirmLines, findDevice } = await import('../../../src/kickstart/confirm.js');
    const report = parseConfirmLines(confirmLog);
    expect(report?.complete).to.equal(true);
    const nic = findDevice(report!, { vendorDevice: '1af4:1041' });
    expect(nic, JSON.stringify(report!.pci)).to.not.equal(undefined);
  });
});
