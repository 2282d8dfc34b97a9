/**
 * Golden files per host profile (fixtures/hosts/<profile>/): `hostdev list --json`, `hostdev show
 * auto` and `doctor --json` checks, run in-process through main() with INSTALL_GUEST_HOST_ROOT set
 * to the profile's tree. UPDATE_GOLDEN=1 rewrites them; read the diff like code.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main.js';
import { createHost } from '../../src/host/host.js';
import { clearProbeCache } from '../../src/qemu/accel.js';
import { probeExecutor } from '../helpers/probe.js';
import {
  buildHostTreeSync,
  listProfiles,
  loadProfile,
  makeTempRoot,
  profileDir,
} from '../helpers/sysfs-fixture.js';
import { golden } from '../helpers/golden.js';

async function run(argv: string[], root: string): Promise<{ code: number; stdout: string; stderr: string }> {
  clearProbeCache();
  let stdout = '';
  let stderr = '';
  const code = await main({
    argv,
    env: { INSTALL_GUEST_HOST_ROOT: root },
    // the profiles are hosts with hardware KVM: their qemu passes the launch probe
    host: createHost({ root, exec: probeExecutor() }),
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    cwd: process.cwd(),
  });
  return { code, stdout, stderr };
}

describe('golden: hostdev and doctor per host profile', () => {
  for (const name of listProfiles()) {
    describe(name, () => {
      let root: string;
      before(() => {
        root = makeTempRoot(name);
        buildHostTreeSync(loadProfile(name), root);
      });
      after(() => rmSync(root, { recursive: true, force: true }));

      it('hostdev list --json', async () => {
        const r = await run(['hostdev', 'list', '--json'], root);
        expect(r.code, r.stderr).to.equal(0);
        const json = JSON.parse(r.stdout) as {
          devices: { verdict: string; reasons: { severity: string }[] }[];
        };
        // meaning, not only text: every verdict follows from its reasons
        for (const d of json.devices) {
          const sev = d.reasons.map((x) => x.severity);
          const want = sev.includes('block')
            ? 'not-assignable'
            : sev.includes('warn')
              ? 'warnings'
              : 'assignable';
          expect(d.verdict).to.equal(want);
        }
        expect(json.devices.length).to.equal(loadProfile(name).devices.length);
        golden(path.join(profileDir(name), 'expected-list.json'), `${JSON.stringify(json, null, 2)}\n`);
      });

      it('hostdev show auto', async () => {
        const r = await run(['hostdev', 'show', 'auto'], root);
        expect(r.code, r.stderr).to.equal(0);
        golden(path.join(profileDir(name), 'expected-show-auto.txt'), r.stdout);
      });

      it('doctor --json', async () => {
        const r = await run(['doctor', '--json', '--memory', '4G'], root);
        const out = JSON.parse(r.stdout) as {
          ok: boolean;
          checks: { id: string; status: string; message: string; hint?: string }[];
          facts: { qemu: { version: string | null } };
        };
        expect(r.code).to.equal(out.checks.some((c) => c.status === 'FAIL') ? 3 : 0);
        expect(out.ok).to.equal(r.code === 0);
        // the qemu on this machine is real; its version is not part of the profile
        const version = out.facts.qemu.version ?? '';
        const checks = out.checks.map((c) => ({
          ...c,
          message: version ? c.message.split(version).join('<qemu-version>') : c.message,
          // the probe's duration is this machine's, not the profile's
          ...(c.id === 'accelerator'
            ? {
                evidence: (c as unknown as { evidence: string[] }).evidence.map((e) =>
                  e.replace(/\d+ ms$/, '<ms> ms'),
                ),
              }
            : {}),
        }));
        golden(
          path.join(profileDir(name), 'expected-doctor.json'),
          `${JSON.stringify({ exit: r.code, checks }, null, 2)}\n`,
        );
      });
    });
  }
});
