/**
 * Golden cases: every folder in fixtures/cases is one `install --dry-run` whose outputs are compared
 * with expected/ (UPDATE_GOLDEN=1 rewrites them). Besides the text, the meaning is checked: each
 * vfio-pci host= is a requested device, exactly one QMP socket per boot, the confirm boot carries no
 * install media, and every install option is used by some case.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { installOptions } from '../../src/cli/install.js';
import { createHost, fixedClock, sequentialIds } from '../../src/host/host.js';
import { clearProbeCache } from '../../src/qemu/accel.js';
import { canonicalAddress } from '../../src/pci/address.js';
import { runCli } from '../helpers/cli.js';
import { golden } from '../helpers/golden.js';
import { probeExecutor } from '../helpers/probe.js';
import { buildHostTreeSync, loadProfile } from '../helpers/sysfs-fixture.js';

const FIXTURES = path.resolve('fixtures');
const CASES = path.join(FIXTURES, 'cases');

interface Case {
  argv: string[];
  hostRoot?: string;
  /** a host profile (fixtures/hosts/<name>) built into a tree for the case */
  hostProfile?: string;
  exit?: number;
  /**
   * what qemu answers to KVM launch probes on the case's host, in order (src/qemu/accel.ts); each
   * entry is a file in fixtures/qemu-probe (`success`, `msr-arch-capabilities`, `irqchip`).
   * Default: every probe passes, as on a host with working hardware KVM.
   */
  probe?: string[];
}

const caseNames = readdirSync(CASES).filter(
  (n) => !n.startsWith('_') && existsSync(path.join(CASES, n, 'request.json')),
);

function pairs(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));
}

describe('golden install cases', function () {
  let cwd: string;
  before(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'ig-golden-'));
  });
  after(() => rm(cwd, { recursive: true, force: true }));

  it('has at least 12 cases, failing ones included', () => {
    expect(caseNames.length).to.be.at.least(12);
    expect(caseNames.filter((n) => n.endsWith('-fail')).length).to.be.at.least(3);
  });

  for (const name of caseNames) {
    it(name, async () => {
      const dir = path.join(CASES, name);
      const c = JSON.parse(readFileSync(path.join(dir, 'request.json'), 'utf8')) as Case;
      const argv = c.argv.map((a) => a.replaceAll('{{fixtures}}', FIXTURES));
      clearProbeCache();
      let root = c.hostRoot ? path.join(FIXTURES, c.hostRoot) : path.join(FIXTURES, 'cases', '_empty-host');
      if (c.hostProfile) {
        root = path.join(cwd, `host-${name}`);
        if (!existsSync(root)) buildHostTreeSync(loadProfile(c.hostProfile), root);
      }
      const host = createHost({
        root,
        clock: fixedClock(),
        ids: sequentialIds(),
        exec: probeExecutor([...(c.probe ?? [])]),
      });
      // media extracted from an ISO go to a private cache under the case's cwd; their cache key
      // hashes the ISO's absolute path, which differs between checkouts
      const normalize = (s: string): string =>
        s
          .replaceAll(FIXTURES, '<fixtures>')
          .replaceAll(cwd, '<cwd>')
          .replace(/\/extracted\/[0-9a-f]{32}\//g, '/extracted/<key>/');
      const env = { INSTALL_GUEST_CACHE_DIR: path.join(cwd, 'media-cache') };
      if (name.endsWith('-fail')) {
        const r = await runCli(['install', '--dry-run', ...argv], { host, cwd, env });
        expect(r.code, r.stderr).to.equal(c.exit ?? 2);
        const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('install-guest:'));
        expect(errorLines, 'one error line, no stack trace').to.have.length(1);
        expect(r.stderr).to.not.match(/\n\s+at /);
        golden(
          path.join(dir, 'expected', 'error.txt'),
          normalize(`exit ${r.code}\n${errorLines[0]}\n`),
        );
        return;
      }
      const r = await runCli(['install', '--dry-run', '--json', ...argv], { host, cwd, env });
      expect(r.code, r.stderr + r.stdout).to.equal(0);
      const plan = JSON.parse(r.stdout) as {
        argv: { install: string[]; confirm: string[] };
        devices: { address: string }[];
      };
      const { install, confirm } = plan.argv;
      golden(path.join(dir, 'expected', 'install.args'), normalize(`${install.join('\n')}\n`));
      golden(path.join(dir, 'expected', 'confirm.args'), normalize(`${confirm.join('\n')}\n`));
      golden(
        path.join(dir, 'expected', 'plan.json'),
        normalize(`${JSON.stringify({ ...plan, argv: undefined }, null, 2)}\n`),
      );

      // meaning, not only text
      // explicit addresses are assigned as given; selectors (auto, vendor:device, names) go through the inventory
      const requested = pairs(argv, '--hostdev')
        .map((h) => canonicalAddress(h.split(',')[0]!))
        .filter((a) => a !== null)
        .concat(
          plan.devices
            .map((d) => d.address)
            .filter((a) => !pairs(argv, '--hostdev').some((h) => canonicalAddress(h.split(',')[0]!) === a)),
        );
      for (const boot of [install, confirm]) {
        const vfio = pairs(boot, '-device').filter((d) => d.startsWith('vfio-pci,'));
        // (the functions of one device are placed together, function 0 first)
        expect(vfio.map((d) => /host=([^,]+)/.exec(d)![1]).sort()).to.deep.equal([...requested].sort());
        // the functions of one device share a root port; only function 0 of a shared slot is multifunction
        const bus = (d: string): string => /,bus=([^,]+)/.exec(d)?.[1] ?? d;
        for (const d of vfio) {
          const shared = vfio.filter((x) => bus(x) === bus(d)).length > 1;
          expect(d.includes(',multifunction=on'), d).to.equal(shared && d.includes(',addr=0.0'));
        }
        expect(pairs(boot, '-qmp')).to.have.length(1);
        expect(boot.filter((a) => a === '-serial')).to.have.length(1);
        for (const a of boot) expect(a, 'no argument may carry a newline').to.not.match(/[\n\0]/);
      }
      // a vIOMMU with interrupt remapping under KVM needs the split irqchip (qemu refuses `on`)
      for (const boot of [install, confirm]) {
        const machine = pairs(boot, '-machine')[0]!;
        const remap = pairs(boot, '-device').some(
          (d) => d.startsWith('intel-iommu,') && d.includes('intremap=on'),
        );
        const kvm = pairs(boot, '-accel')[0] === 'kvm';
        expect(/kernel-irqchip=split/.test(machine), `${name}: -machine ${machine}`).to.equal(remap && kvm);
      }
      expect(install).to.include('-no-reboot');
      expect(confirm).to.not.include('-kernel');
      expect(confirm).to.not.include('-append');
      // the confirm boot carries no install media; its one cdrom is the cloud-init seed, when asked
      const confirmCds = pairs(confirm, '-device').filter((d) => d.startsWith('ide-cd,'));
      expect(confirmCds.map((d) => d.split(',')[1])).to.deep.equal(
        argv.includes('--cloud-init') ? ['drive=cidata'] : [],
      );
      expect(pairs(install, '-qmp')[0]).to.not.equal(pairs(confirm, '-qmp')[0]);
    });
  }

  it('uses every install option in at least one case', async () => {
    const parser = installOptions(yargs([])) as unknown as { getOptions(): { key: Record<string, unknown> } };
    const options = Object.keys(parser.getOptions().key).filter(
      (k) => !['help', 'version', '$0'].includes(k) && !/[A-Z]/.test(k),
    );
    const used = new Set<string>(['dry-run', 'print-cmdline', 'json']);
    for (const name of caseNames) {
      const c = JSON.parse(readFileSync(path.join(CASES, name, 'request.json'), 'utf8')) as Case;
      for (const a of c.argv) {
        if (a.startsWith('--')) used.add(a.slice(2).replace(/^no-/, ''));
        else if (/^-[a-z]$/.test(a)) used.add(a.slice(1)); // virt-install's short spellings (-n, -r, -x, …)
      }
    }
    const unused = options.filter((o) => !used.has(o));
    expect(unused, 'options used by no golden case').to.deep.equal([]);
    await Promise.resolve();
  });
});
