/**
 * The wizard's providers are the commands' own code: on fixture host trees (fixtures/hosts) the
 * device list equals what `hostdev list --json --class net` prints, the media facts are the lines
 * `media inspect` prints, and the kickstart findings are those of `kickstart lint --headless`.
 */
import { expect } from 'chai';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main.js';
import { isInstallGuestError } from '../../../src/errors.js';
import { createHost } from '../../../src/host/host.js';
import type { ListJson } from '../../../src/pci/render.js';
import { defaultProviders } from '../../../src/wizard/providers.js';
import type { DeviceChoice } from '../../../src/wizard/types.js';
import { deviceChoice } from '../../../src/wizard/steps/network.js';
import { loadProfile, withHostTree } from '../../helpers/sysfs-fixture.js';
import { snapshotTree } from './tree-snapshot.js';

const ISO = path.resolve('fixtures/cases/_media/install.iso');

async function cli(argv: string[], cwd = process.cwd()): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main({
    argv,
    env: {},
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    cwd,
  });
  return { code, out, err };
}

const providers = (root: string, cwd = process.cwd()) =>
  defaultProviders(createHost({ root }), { cwd, env: { INSTALL_GUEST_CACHE_DIR: path.join(cwd, 'cache') } });

describe('wizard providers: the commands’ own code', () => {
  describe('listDevices is `hostdev list`', () => {
    const PROFILES = [
      'two-nics',
      'one-nic-default-route',
      'nic-group-with-endpoint',
      'amd-bond-mgmt',
      'sriov-pf-vfs',
      'no-iommu',
    ];
    const verdictsSeen = new Set<string>();
    after(() => expect([...verdictsSeen].sort()).to.deep.equal(['assignable', 'not-assignable', 'warnings']));

    for (const name of PROFILES)
      it(`${name}: the same functions, verdicts and reasons as hostdev list --json --class net`, () =>
        withHostTree(loadProfile(name), async (root) => {
          const before = await snapshotTree(root);
          const listed = await cli(['--host-root', root, 'hostdev', 'list', '--class', 'net', '--json']);
          expect(listed.code, listed.err).to.equal(0);
          const json = JSON.parse(listed.out) as ListJson;
          const choices = await providers(root).listDevices();
          expect(choices.map((c) => [c.address, c.verdict])).to.deep.equal(
            json.devices.map((d) => [d.address, d.verdict]),
          );
          for (const [i, d] of json.devices.entries()) {
            const c = choices[i]!;
            verdictsSeen.add(c.verdict);
            expect(c.reasons).to.deep.equal(
              d.reasons
                .filter((r) => r.severity !== 'info')
                .map((r) => ({ code: r.code, severity: r.severity, message: r.message })),
            );
            expect(c.label.startsWith(`${d.address} ${d.className} [${d.vendorId}:${d.deviceId}]`)).to.equal(
              true,
            );
            // greyed exactly when hostdev list says not assignable, with every blocking sentence
            const shown = deviceChoice(c);
            expect(Boolean(shown.disabled)).to.equal(d.verdict === 'not-assignable');
            for (const r of d.reasons.filter((x) => x.severity === 'block'))
              expect(String(shown.disabled)).to.include(r.message);
            for (const r of d.reasons.filter((x) => x.severity === 'warn' && d.verdict === 'warnings'))
              expect(shown.name).to.include(r.message);
          }
          expect(await snapshotTree(root), 'listing only reads').to.deep.equal(before);
        }));

    it('two-nics: the default-route NIC greyed, the free NIC offered with its MAC', () =>
      withHostTree(loadProfile('two-nics'), async (root) => {
        const byAddress = new Map<string, DeviceChoice>(
          (await providers(root).listDevices()).map((c) => [c.address, c]),
        );
        expect([...byAddress.keys()]).to.deep.equal(['0000:00:1f.6', '0000:05:00.0']);
        expect(byAddress.get('0000:00:1f.6')!.reasons.map((r) => r.code)).to.deep.equal(['DEFAULT_ROUTE']);
        expect(byAddress.get('0000:05:00.0')).to.deep.include({
          verdict: 'assignable',
          mac: 'a0:36:9f:11:22:33',
        });
      }));
  });

  describe('inspectMedia is `media inspect`', () => {
    let cwd: string;
    beforeEach(async () => {
      cwd = await mkdtemp(path.join(os.tmpdir(), 'ig-wizard-media-'));
    });
    afterEach(() => rm(cwd, { recursive: true, force: true }));

    it('an ISO: the lines media inspect prints', async () => {
      const inspected = await cli(['media', 'inspect', ISO], cwd);
      expect(inspected.code, inspected.err).to.equal(0);
      const facts = await providers('/nonexistent', cwd).inspectMedia(ISO);
      expect(facts.lines.map((l) => `${l}\n`).join('')).to.equal(inspected.out);
      expect(facts).to.deep.include({
        name: 'Fixture Linux 1',
        family: 'generic',
        version: '1',
        arch: 'x86_64',
      });
    });

    it('a directory that is not a tree: the error media inspect exits 2 with', async () => {
      const inspected = await cli(['media', 'inspect', cwd], cwd);
      expect(inspected.code).to.equal(2);
      const e = await providers('/nonexistent', cwd)
        .inspectMedia(cwd)
        .then(
          () => null,
          (x: unknown) => x,
        );
      expect(isInstallGuestError(e) && e.code).to.equal('MEDIA_NOT_RECOGNISED');
      expect(inspected.err).to.include((e as Error).message);
    });
  });

  describe('lintKickstart is `kickstart lint --headless`', () => {
    const dir = path.resolve('fixtures/kickstarts');
    let tmp: string;
    before(async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), 'ig-wizard-ks-'));
      await writeFile(path.join(tmp, 'part.cfg'), 'rootpwd --plaintext x\n');
      await writeFile(
        path.join(tmp, 'bad.ks'),
        'graphical\nnetwork --device=eth7 --bootproto=dhcp\n%include part.cfg\n%packages\n@core\n',
      );
    });
    after(() => rm(tmp, { recursive: true, force: true }));

    it('the same findings for every kickstart fixture and a bad one, with and without the assigned NIC', async () => {
      const files = [path.resolve('fixtures/cases/_media/user.ks'), path.join(tmp, 'bad.ks')];
      for (const d of await readdir(dir))
        for (const f of await readdir(path.join(dir, d)))
          if (f.endsWith('.ks') && !f.includes('redacted')) files.push(path.join(dir, d, f));
      expect(files.length).to.be.greaterThan(3);
      const p = providers('/nonexistent');
      let compared = 0;
      for (const file of files) {
        const linted = await cli(['kickstart', 'lint', file, '--headless', '--json']);
        const json = JSON.parse(linted.out) as { findings: unknown[] };
        expect(await p.lintKickstart(file, {}), file).to.deep.equal(json.findings);
        const mac = 'a0:36:9f:11:22:33';
        const withNic = await cli(['kickstart', 'lint', file, '--headless', '--nic', mac, '--json']);
        expect(await p.lintKickstart(file, { assignedNic: { mac } }), file).to.deep.equal(
          (JSON.parse(withNic.out) as { findings: unknown[] }).findings,
        );
        compared++;
        if (file.endsWith('bad.ks')) {
          const found = await p.lintKickstart(file, { assignedNic: { mac } });
          expect(found.filter((f) => f.severity === 'error').length, JSON.stringify(found)).to.be.greaterThan(
            1,
          );
          expect(found.some((f) => f.file === path.join(tmp, 'part.cfg'))).to.equal(true);
        }
      }
      expect(compared).to.equal(files.length);
    });
  });
});
