/**
 * `install --boot uefi --tpm emulator` on the tiny guest under TCG, end to end: the install boot
 * runs under OVMF with the guest's own vars store and an swtpm started by install-guest; the tiny
 * installer, seeing /sys/firmware/efi, writes a GPT, an EFI System Partition and systemd-boot; the
 * confirm boot starts from the installed disk through OVMF → systemd-boot (no -kernel), with the
 * same TPM state, and the guest's confirmation unit reports the virtio NIC and the TPM 2.0.
 * Measured here: about 2 min (install ~60 s, confirm ~50 s under TCG). Then the same through a
 * real libvirtd (`--connect qemu:///system`), which keeps the vars store and runs swtpm itself
 * (about 2 min more).
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILT_CLI, requireBuiltCli } from '../../helpers/cli.js';
import { SYSTEM_URI, domainExists, ensureLibvirtd, virsh } from '../../helpers/libvirtd.js';
import { alive, killLeft, runCliWatched } from '../../helpers/processes.js';
import { type Bed, ensureBed } from '../bed/index.js';

/** swtpm processes whose state directory is under `dir` (their cwd) */
async function swtpmUnder(dir: string): Promise<number[]> {
  const r = await execa('pgrep', ['-x', 'swtpm'], { reject: false });
  const out: number[] = [];
  for (const pid of r.stdout.split('\n').filter(Boolean).map(Number)) {
    const cwd = await fs.readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (cwd.startsWith(dir)) out.push(pid);
  }
  return out;
}

describe('e2e: --boot uefi --tpm emulator (tiny guest, single TCG)', function () {
  this.timeout(420_000);
  let bed: Bed;
  let tmp: string;
  const started: number[] = [];

  before(async function () {
    this.timeout(15 * 60_000);
    bed = await ensureBed();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-uefi-tpm-'));
  });
  after(async () => {
    killLeft(started);
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('installs through OVMF, boots the disk through systemd-boot and confirms the NIC and the TPM', async () => {
    const logDir = path.join(tmp, 'logs');
    const r = await runCliWatched(
      [
        'install',
        '--name',
        'efi',
        '--boot',
        'uefi',
        '--tpm',
        'emulator',
        '--location',
        bed.media.treeDir,
        '--disk',
        'size=1',
        '--virt-type',
        'qemu',
        '--memory',
        '512',
        '--network',
        'user,model=virtio',
        '--log-dir',
        logDir,
        '--json',
      ],
      tmp,
      (pid) => started.push(pid),
    );
    expect(r.code, r.stderr + r.stdout.slice(-3000)).to.equal(0);
    for (const pid of r.pids) expect(alive(pid), `qemu ${pid} still running`).to.equal(false);
    // swtpm ended with each boot
    expect(await swtpmUnder(tmp)).to.deep.equal([]);
    const lines = r.stdout.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1]!) as {
      verdict: string;
      devices: { vendorDevice: string; guestDriver: string | null }[];
      phases: {
        install: { serialLog: string; ms: number };
        confirm: {
          serialLog: string;
          ms: number;
          notes: string[];
          tpm?: { model: string; guestName: string };
        };
      };
    };
    expect(result.verdict).to.equal('confirmed');
    expect(result.devices.map((d) => d.vendorDevice)).to.deep.equal(['1af4:1041']);
    expect(result.phases.confirm.tpm).to.deep.equal({ model: 'tpm-crb', guestName: 'tpm0', version: '2' });
    expect(result.phases.confirm.notes).to.deep.equal([]);

    // both boots: OVMF's pflash (the guest's own vars store) and the swtpm socket of that boot
    for (const phase of ['install', 'confirm']) {
      const args = (await fs.readFile(path.join(logDir, `${phase}.args`), 'utf8')).split('\n');
      expect(args).to.include(
        `driver=file,filename=${path.join(logDir, 'efi_VARS.fd')},node-name=pflash1-file`,
      );
      expect(args.find((a) => a.startsWith('socket,id=chrtpm,path='))).to.match(
        new RegExp(`swtpm-${phase}\\.sock$`),
      );
      expect(args).to.include('tpm-crb,tpmdev=tpm0,id=tpm0-dev');
    }
    // the vars store is the guest's own copy of the template, private
    const vars = await fs.stat(path.join(logDir, 'efi_VARS.fd'));
    expect(vars.mode & 0o777).to.equal(0o600);
    expect(vars.size).to.equal((await fs.stat('/usr/share/OVMF/OVMF_VARS_4M.fd')).size);
    const confirmArgs = (await fs.readFile(path.join(logDir, 'confirm.args'), 'utf8')).split('\n');
    expect(confirmArgs).to.not.include('-kernel');

    // the installer took the UEFI path
    const installLog = await fs.readFile(result.phases.install.serialLog, 'latin1');
    expect(installLog).to.include('Creating disklabel on /dev/vda (gpt)');
    expect(installLog).to.include('Creating efi on /dev/vda1');
    // the confirm boot: OVMF started the disk's removable-media loader, systemd-boot its entry
    // (systemd-boot names the initrd on the kernel command line), root on the GPT's second partition
    const confirmLog = await fs.readFile(result.phases.confirm.serialLog, 'latin1');
    expect(confirmLog).to.match(/BdsDxe: starting Boot\d+ "UEFI Misc Device"/);
    expect(confirmLog).to.match(/efi: EFI v[\d.]+ by EDK II/);
    expect(confirmLog).to.include('initrd=\\initramfs-');
    expect(confirmLog).to.match(/IG-CONFIRM tpm name=tpm0 version=2/);

    // the TPM state persisted in the guest's private state directory, used by both boots
    const stateDir = path.join(logDir, 'efi_TPM');
    expect((await fs.stat(stateDir)).mode & 0o777).to.equal(0o700);
    expect(await fs.readdir(stateDir)).to.include('tpm2-00.permall');
    // the workdir sockets are gone with the run
    expect(await fs.readdir(tmp)).to.not.include.members(['swtpm-install.sock', 'swtpm-confirm.sock']);
  });
});

describe('e2e: --connect qemu:///system --boot uefi --tpm emulator (real libvirtd, TCG)', function () {
  this.timeout(420_000);
  const NAME = 'ig-efi-tpm-lv';
  let bed: Bed;
  let tmp: string;
  const cleanup = async (): Promise<void> => {
    if (await domainExists(NAME)) {
      await virsh('destroy', NAME).catch(() => undefined);
      await virsh('undefine', NAME, '--nvram', '--tpm').catch(() => undefined);
    }
    await virsh('vol-delete', '--pool', 'default', `${NAME}.qcow2`).catch(() => undefined);
  };

  before(async function () {
    this.timeout(15 * 60_000);
    requireBuiltCli();
    await ensureLibvirtd();
    bed = await ensureBed();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ig-uefi-tpm-lv-'));
    await cleanup();
  });
  after(async () => {
    await cleanup();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it("libvirt keeps the vars store and runs swtpm; the confirm boot's guest lists the same TPM", async () => {
    const logDir = path.join(tmp, 'logs');
    const r = await execa(
      'node',
      [
        BUILT_CLI,
        'install',
        '--connect',
        SYSTEM_URI,
        '--boot',
        'uefi',
        '--tpm',
        'emulator',
        '--boot',
        `kernel=${bed.media.treeKernel},initrd=${bed.media.treeInitrd}`,
        '--os-variant',
        'fedora',
        '--name',
        NAME,
        '--disk',
        'size=1',
        '--accel',
        'tcg',
        '--memory',
        '512',
        '--network',
        'user,model=virtio',
        '--log-dir',
        logDir,
        '--json',
      ],
      { cwd: tmp, reject: false },
    );
    expect(r.exitCode, r.stderr + r.stdout.slice(-3000)).to.equal(0);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      verdict: string;
      phases: { confirm: { serialLog: string; tpm?: { guestName: string } } };
    };
    expect(result.verdict).to.equal('confirmed');
    expect(result.phases.confirm.tpm?.guestName).to.equal('tpm0');
    // the install boot (transient) keeps its TPM state for the persistent domain
    const installXml = await fs.readFile(path.join(logDir, 'install.xml'), 'utf8');
    expect(installXml).to.include("<backend type='emulator' version='2.0' persistent_state='yes'/>");
    expect(installXml).to.include("<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'/>");
    // the defined domain: libvirt's own vars store, an emulated TPM, booting its disk through OVMF
    const xml = await virsh('dumpxml', NAME);
    expect(xml).to.include(`/var/lib/libvirt/qemu/nvram/${NAME}_VARS.fd</nvram>`);
    expect(xml).to.match(/<tpm model='tpm-crb'>\s*<backend type='emulator' version='2.0'/);
    expect(xml).to.not.include('<kernel>');
    const confirmLog = await fs.readFile(result.phases.confirm.serialLog, 'latin1');
    expect(confirmLog).to.match(/BdsDxe: starting Boot\d+ "UEFI Misc Device"/);
    expect(confirmLog).to.include('initrd=\\initramfs-');
  });
});
