/**
 * Golden cases: every folder in fixtures/cases is one `install --dry-run` whose outputs are compared
 * with expected/ (UPDATE_GOLDEN=1 rewrites them). Besides the text, the meaning is checked: each
 * vfio-pci host= is a requested device, exactly one QMP socket per boot, the confirm boot carries no
 * install media, and every install option is used by some case.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { installOptions } from '../../src/cli/install.js';
import { createHost, fixedClock, sequentialIds } from '../../src/host/host.js';
import { canonicalAddress } from '../../src/stages/select-device.js';
import { runCli } from '../helpers/cli.js';

const FIXTURES = path.resolve('fixtures');
const CASES = path.join(FIXTURES, 'cases');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Case {
  argv: string[];
  hostRoot?: string;
  exit?: number;
}

const caseNames = readdirSync(CASES).filter(
  (n) => !n.startsWith('_') && existsSync(path.join(CASES, n, 'request.json')),
);

async function golden(file: string, actual: string): Promise<void> {
  if (UPDATE) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, actual);
    return;
  }
  expect(existsSync(file), `${file} is missing: run UPDATE_GOLDEN=1 npm test`).to.equal(true);
  expect(actual).to.equal(readFileSync(file, 'utf8'));
}

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
      const host = createHost({
        root: c.hostRoot ? path.join(FIXTURES, c.hostRoot) : path.join(FIXTURES, 'cases', '_empty-host'),
        clock: fixedClock(),
        ids: sequentialIds(),
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
        await golden(
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
      await golden(path.join(dir, 'expected', 'install.args'), normalize(`${install.join('\n')}\n`));
      await golden(path.join(dir, 'expected', 'confirm.args'), normalize(`${confirm.join('\n')}\n`));
      await golden(
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
        expect(vfio.map((d) => /host=([^,]+)/.exec(d)![1])).to.deep.equal(requested);
        expect(pairs(boot, '-qmp')).to.have.length(1);
        expect(boot.filter((a) => a === '-serial')).to.have.length(1);
        for (const a of boot) expect(a, 'no argument may carry a newline').to.not.match(/[\n\0]/);
      }
      expect(install).to.include('-no-reboot');
      expect(confirm).to.not.include('-kernel');
      expect(confirm).to.not.include('-append');
      expect(confirm.join('\n')).to.not.include('ide-cd');
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
