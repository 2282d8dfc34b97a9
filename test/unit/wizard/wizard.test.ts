import { expect } from 'chai';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inputError, isInstallGuestError } from '../../../src/errors.js';
import { createHost } from '../../../src/host/host.js';
import { parseInstallRequest, type RawInstallArgs } from '../../../src/request/request.js';
import { shellQuote, toCommandLine } from '../../../src/wizard/command-line.js';
import { defaultProviders } from '../../../src/wizard/providers.js';
import type {
  DeviceChoice,
  LintFinding,
  MediaFacts,
  PromptChoice,
  WizardDeps,
} from '../../../src/wizard/types.js';
import { askDisk } from '../../../src/wizard/steps/disk.js';
import { askKickstart } from '../../../src/wizard/steps/kickstart.js';
import { askMedia } from '../../../src/wizard/steps/media.js';
import { askNetwork, deviceChoice } from '../../../src/wizard/steps/network.js';
import { askResources } from '../../../src/wizard/steps/resources.js';
import { runWizard, STEPS } from '../../../src/wizard/wizard.js';
import { ctrlC, DEFAULT, inp, num, ScriptedPrompts, sel, yes, type ScriptStep } from './fake-prompts.js';
import { loadProfile, withHostTree } from '../../helpers/sysfs-fixture.js';
import { snapshotTree } from './tree-snapshot.js';

const ISO = path.resolve('fixtures/cases/_media/install.iso');

const FEDORA: MediaFacts = {
  name: 'Fedora 40',
  family: 'fedora',
  version: '40',
  arch: 'x86_64',
  lines: ['Fedora 40 x86_64', '  family     fedora (installer: anaconda)'],
};

const ROUTE_REASON =
  "eno1 on 0000:00:1f.6 carries the host's default route; assigning it would cut the host off the network";
const GROUP_REASON =
  'IOMMU group 9 also holds 0000:06:00.1, which must stay unbound or on vfio-pci while 0000:06:00.0 is assigned';

const DEVICES: DeviceChoice[] = [
  {
    address: '0000:00:1f.6',
    label: '0000:00:1f.6 Ethernet controller [8086:15b8] driver=e1000e eno1',
    className: 'Ethernet controller',
    verdict: 'not-assignable',
    reasons: [{ code: 'DEFAULT_ROUTE', severity: 'block', message: ROUTE_REASON }],
    mac: 'b4:2e:99:01:02:03',
  },
  {
    address: '0000:05:00.0',
    label: '0000:05:00.0 Ethernet controller [8086:1533] driver=igb enp5s0',
    className: 'Ethernet controller',
    verdict: 'assignable',
    reasons: [],
    mac: 'a0:36:9f:11:22:33',
  },
  {
    address: '0000:06:00.0',
    label: '0000:06:00.0 Ethernet controller [8086:1521] driver=igb enp6s0f0',
    className: 'Ethernet controller',
    verdict: 'warnings',
    reasons: [{ code: 'IOMMU_GROUP_SHARED', severity: 'warn', message: GROUP_REASON }],
  },
];

describe('interactive install wizard (steps, with scripted prompts)', () => {
  let dir: string;
  let out: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-wizard-'));
    await mkdir(path.join(dir, 'tree'));
    await mkdir(path.join(dir, 'media,x'));
    for (const f of ['os.iso', 'vmlinuz', 'initrd.img', 'old.qcow2', 'media,x/vmlinuz'])
      await writeFile(path.join(dir, f), 'x');
    await writeFile(path.join(dir, 'ks.cfg'), 'rootpw --plaintext x\n');
    await writeFile(path.join(dir, 'my ks.cfg'), 'x\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  function deps(script: ScriptStep[], over: Partial<WizardDeps> = {}): { d: WizardDeps; p: ScriptedPrompts } {
    out = '';
    const p = new ScriptedPrompts(script);
    return {
      p,
      d: {
        prompts: p.prompts,
        listDevices: () => Promise.resolve(DEVICES),
        inspectMedia: () => Promise.resolve(FEDORA),
        lintKickstart: () => Promise.resolve([]),
        stdout: { write: (s: string) => (out += s) },
        cwd: dir,
        ...over,
      },
    };
  }

  describe('name and resources', () => {
    it('offers defaults and checks each answer with the install’s own parsers', async () => {
      const { d, p } = deps([
        inp(/Guest name/, 'web1', ['a/b', ' x', 'n\nl']),
        inp(/Memory/, '2G', ['12x', '0']),
        num(/vCPUs/, DEFAULT),
        num(/Disk size/, 20),
      ]);
      expect(await askResources(d)).to.deep.equal({
        name: 'web1',
        memory: '2G',
        vcpus: '2',
        diskSizeGiB: 20,
      });
      expect(p.find(/Guest name/).config.default).to.equal('guest1');
      expect(p.find(/Guest name/).rejections[0]).to.match(/--name 'a\/b' is not a usable guest name/);
      expect(p.find(/Guest name/).rejections[2]).to.match(/newline/);
      expect(p.find(/Memory/).rejections).to.deep.equal([
        "--memory '12x' is not a size",
        "--memory '0' must be greater than zero",
      ]);
    });

    it('takes the defaults from options given on the command line, keeping a vCPU topology as given', async () => {
      const { d, p } = deps([inp(/Guest name/, DEFAULT), inp(/Memory/, DEFAULT), num(/Disk size/, DEFAULT)], {
        initial: { name: 'db', memory: '4G', vcpus: 'vcpus=4,sockets=1,cores=4' },
      });
      expect(await askResources(d)).to.deep.equal({
        name: 'db',
        memory: '4G',
        vcpus: 'vcpus=4,sockets=1,cores=4',
        diskSizeGiB: 8,
      });
      expect(p.calls.map((c) => c.config.message)).to.not.include('vCPUs');
      expect(out).to.include('vCPUs: vcpus=4,sockets=1,cores=4 (from the command line)');
    });
  });

  describe('install media', () => {
    it('shows what media inspect found in a URL', async () => {
      const seen: string[] = [];
      const { d, p } = deps(
        [
          sel(/Install media/, 'location'),
          inp(/Location/, 'https://mirror/fedora/40/os/', ['file:///etc/passwd', 'nowhere/at/all']),
        ],
        { inspectMedia: (l) => (seen.push(l), Promise.resolve(FEDORA)) },
      );
      const m = await askMedia(d);
      expect(m.options).to.deep.equal({ location: 'https://mirror/fedora/40/os/' });
      expect(m.facts).to.deep.equal(FEDORA);
      expect(seen).to.deep.equal(['https://mirror/fedora/40/os/']);
      expect(out).to.equal('  Fedora 40 x86_64\n    family     fedora (installer: anaconda)\n');
      expect(m.description).to.equal('--location https://mirror/fedora/40/os/: Fedora 40 x86_64 (fedora 40)');
      expect(p.find(/Location/).rejections).to.deep.equal([
        'a URL must be http://, https:// or ftp://',
        'no such file or directory: nowhere/at/all',
      ]);
    });

    it('re-asks with the error’s message when media inspect does not recognise the location', async () => {
      const seen: string[] = [];
      const { d, p } = deps([sel(/Install media/, 'location'), inp(/Location/, 'os.iso', ['tree'])], {
        inspectMedia: (l) => {
          seen.push(l);
          return l.endsWith('/tree')
            ? Promise.reject(
                inputError('MEDIA_NOT_RECOGNISED', `${l} is not an install tree`, {
                  hint: 'give the tree root',
                }),
              )
            : Promise.resolve(FEDORA);
        },
      });
      const m = await askMedia(d);
      expect(m.options).to.deep.equal({ location: path.join(dir, 'os.iso') });
      expect(p.find(/Location/).rejections).to.deep.equal([
        `${dir}/tree is not an install tree (hint: give the tree root)`,
      ]);
      // inspected once per answer: the answer taken is not inspected again
      expect(seen).to.deep.equal([path.join(dir, 'tree'), path.join(dir, 'os.iso')]);
    });

    it('boots a CD-ROM ISO that is not an install tree as it is, as the install does', async () => {
      const { d } = deps([sel(/Install media/, 'cdrom'), inp(/ISO/, 'os.iso')], {
        inspectMedia: (l) =>
          Promise.reject(inputError('MEDIA_NOT_RECOGNISED', `${l} is not an install tree`)),
      });
      const m = await askMedia(d);
      expect(m.options).to.deep.equal({ cdrom: path.join(dir, 'os.iso') });
      expect(m.description).to.include('(not an install tree install-guest recognises)');
      expect(out).to.include(`note: ${dir}/os.iso is not an install tree`);
    });

    it('passes an error that is not a typed one (a bug) through', async () => {
      const { d } = deps([sel(/Install media/, 'cdrom'), inp(/ISO/, 'os.iso')], {
        inspectMedia: () => Promise.reject(new TypeError('boom')),
      });
      const e = await askMedia(d).then(
        () => null,
        (x: Error) => x,
      );
      expect(e).to.be.instanceOf(TypeError);
    });

    it('asks for a CD-ROM ISO file, not a directory', async () => {
      const { d, p } = deps([
        sel(/Install media/, 'cdrom'),
        inp(/ISO/, 'os.iso', ['tree', 'missing.iso', '']),
      ]);
      await askMedia(d);
      expect(p.find(/ISO/).rejections).to.deep.equal([
        'tree is not an ISO file',
        'no such file or directory: missing.iso',
        'give the path of an ISO file',
      ]);
    });

    it('writes a kernel and initrd as --boot, with commas escaped, that the install reads back', async () => {
      const { d } = deps([
        sel(/Install media/, 'boot'),
        inp(/Kernel/, 'media,x/vmlinuz'),
        inp(/Initrd/, 'initrd.img'),
      ]);
      const m = await askMedia(d);
      const req = parseInstallRequest({ boot: m.options.boot! }, '/elsewhere');
      expect(req.boot).to.deep.equal({
        kernel: path.join(dir, 'media,x/vmlinuz'),
        initrd: path.join(dir, 'initrd.img'),
      });
      const { d: d2 } = deps([sel(/Install media/, 'boot'), inp(/Kernel/, 'vmlinuz'), inp(/Initrd/, '')]);
      expect((await askMedia(d2)).options).to.deep.equal({ boot: `kernel=${dir}/vmlinuz` });
    });

    it('imports an existing disk with no install', async () => {
      const { d } = deps([sel(/Install media/, 'import'), inp(/Disk image/, 'old.qcow2', ['nothing.qcow2'])]);
      expect((await askMedia(d)).options).to.deep.equal({ import: true, disk: [`path=${dir}/old.qcow2`] });
    });
  });

  describe('network', () => {
    it('user networking', async () => {
      const { d } = deps([sel(/^Network/, 'user')]);
      expect(await askNetwork(d)).to.deep.include({ network: 'user' });
    });

    it('a bridge, with its name checked', async () => {
      const { d, p } = deps([
        sel(/^Network/, 'bridge'),
        inp(/Bridge name/, 'br1', ['br0,mac=x', 'not a name', '']),
      ]);
      expect(await askNetwork(d)).to.deep.include({ network: 'bridge=br1' });
      expect(p.find(/Bridge/).config.default).to.equal('br0');
      expect(p.find(/Bridge/).rejections).to.have.length(3);
    });

    it('lists the host’s NICs: not-assignable greyed with the reason, warnings shown', async () => {
      const { d, p } = deps([
        sel(/^Network/, 'hostdev'),
        sel(/Device to assign/, '0000:05:00.0'),
        yes(/user networking/),
      ]);
      const n = await askNetwork(d);
      expect(n).to.deep.include({ network: 'user', hostdev: ['0000:05:00.0'], device: DEVICES[1] });
      const choices = p
        .find(/Device to assign/)
        .config.choices!.filter((c): c is PromptChoice<unknown> => 'value' in c);
      expect(choices.map((c) => [c.name, c.disabled ?? false])).to.deep.equal([
        [DEVICES[0]!.label, `(not assignable: ${ROUTE_REASON})`],
        [DEVICES[1]!.label, false],
        [`${DEVICES[2]!.label}  (warning: ${GROUP_REASON})`, false],
        ['← Back to the network choices', false],
      ]);
    });

    it('joins several blocking reasons, and leaves informational ones out', () => {
      const c = deviceChoice({
        ...DEVICES[0]!,
        reasons: [
          { code: 'A', severity: 'block', message: 'one' },
          { code: 'B', severity: 'warn', message: 'minor' },
          { code: 'C', severity: 'block', message: 'two' },
        ],
      });
      expect(c.disabled).to.equal('(not assignable: one; two)');
    });

    it('cannot pick a greyed device', async () => {
      const { d } = deps([sel(/^Network/, 'hostdev'), sel(/Device to assign/, '0000:00:1f.6')]);
      const e = await askNetwork(d).then(
        () => null,
        (x: Error) => x,
      );
      expect(e?.message).to.match(/disabled/);
    });

    it('repeats the warning of the chosen device, and gives no other network when asked', async () => {
      const { d } = deps([
        sel(/^Network/, 'hostdev'),
        sel(/Device to assign/, '0000:06:00.0'),
        yes(/user networking/, false),
      ]);
      expect(await askNetwork(d)).to.deep.include({ network: 'none', hostdev: ['0000:06:00.0'] });
      expect(out).to.include(`warning: ${GROUP_REASON}`);
    });

    it('goes back from the device list to the network choices', async () => {
      const { d } = deps([
        sel(/^Network/, 'hostdev'),
        sel(/Device to assign/, '\u0000back'),
        sel(/^Network/, 'bridge'),
        inp(/Bridge/, DEFAULT),
      ]);
      expect(await askNetwork(d)).to.deep.include({ network: 'bridge=br0' });
    });

    it('still shows the reasons when nothing is assignable', async () => {
      const { d, p } = deps(
        [sel(/^Network/, 'hostdev'), sel(/Device to assign/, '\u0000back'), sel(/^Network/, 'user')],
        {
          listDevices: () => Promise.resolve([DEVICES[0]!]),
        },
      );
      await askNetwork(d);
      expect(out).to.include('no network device on this host can be assigned');
      expect(
        p.find(/Device to assign/).config.choices!.filter((c) => 'value' in c && !c.disabled),
      ).to.have.length(1);
    });

    for (const [title, listDevices, reason] of [
      ['no NIC at all', () => Promise.resolve([]), '(this host shows no PCI network device)'],
      [
        'the device list failing',
        () => Promise.reject(new Error('cannot read /sys/bus/pci/devices')),
        "(cannot list the host's devices: cannot read /sys/bus/pci/devices)",
      ],
    ] as const)
      it(`greys "assign a physical device" with ${title}`, async () => {
        const { d, p } = deps([sel(/^Network/, 'user')], { listDevices });
        await askNetwork(d);
        const hostdev = p.find(/^Network/).config.choices!.find((c) => 'value' in c && c.value === 'hostdev');
        expect(hostdev && 'disabled' in hostdev && hostdev.disabled).to.equal(reason);
      });
  });

  describe('disk', () => {
    it('a new image named after the guest', async () => {
      const { d } = deps([sel(/^Disk/, 'new')]);
      expect(await askDisk(d, 'web 1', 8)).to.deep.equal({
        disk: ['size=8'],
        description: `new 8 GiB qcow2 at ${dir}/web_1.qcow2`,
      });
    });

    it('a new image at a chosen path (commas escaped), refusing existing files and missing dirs', async () => {
      const { d, p } = deps([
        sel(/^Disk/, 'new-path'),
        inp(/Path of the new image/, 'a,b.qcow2', ['old.qcow2', 'no/dir/x.qcow2']),
      ]);
      const a = await askDisk(d, 'web1', 4);
      expect(a.disk).to.deep.equal([`path=${dir}/a,,b.qcow2,size=4`]);
      expect(p.find(/Path of the new image/).rejections).to.deep.equal([
        'old.qcow2 exists: choose "An existing disk image" to use it',
        `no such directory: ${dir}/no/dir`,
      ]);
      const req = parseInstallRequest({ name: 'web1', import: false, cdrom: '/x.iso', disk: a.disk }, '/');
      expect(req.disks).to.deep.equal([
        { path: `${dir}/a,b.qcow2`, sizeGiB: 4, format: 'qcow2', bus: 'virtio' },
      ]);
    });

    it('an existing image', async () => {
      const { d } = deps([sel(/^Disk/, 'existing'), inp(/Existing disk image/, 'old.qcow2', ['nope.img'])]);
      expect((await askDisk(d, 'web1', 8)).disk).to.deep.equal([`path=${dir}/old.qcow2`]);
    });

    it('says so when the default image already exists', async () => {
      const { d, p } = deps([sel(/^Disk/, 'new')]);
      const a = await askDisk(d, 'old', 8);
      expect(p.find(/^Disk/).config.choices![0]).to.deep.include({
        name: `${dir}/old.qcow2 (exists: used as it is, not recreated)`,
      });
      expect(a.description).to.equal(`${dir}/old.qcow2 (existing)`);
    });
  });

  describe('kickstart', () => {
    it('the built-in template, with the OS variant suggested by the media', async () => {
      const { d, p } = deps([sel(/Kickstart/, 'built-in'), inp(/OS variant/, DEFAULT, ['fedora 40'])]);
      const k = await askKickstart(d, FEDORA);
      expect(k.options).to.deep.equal({ osVariant: 'fedora40' });
      expect(p.find(/OS variant/).config.default).to.equal('fedora40');
    });

    it('a file, linted first as the install lints it: findings shown, errors ask again', async () => {
      const findings: LintFinding[] = [
        { line: 3, severity: 'error', code: 'UNKNOWN_COMMAND', message: "unknown command 'rootpwd'" },
        {
          line: 1,
          severity: 'warning',
          code: 'NO_POST',
          message: 'no %post section',
          file: `${dir}/inc.cfg`,
        },
      ];
      const linted: unknown[] = [];
      const { d, p } = deps(
        [
          sel(/Kickstart/, 'file'),
          inp(/Kickstart file/, 'ks.cfg', ['tree', 'no.cfg']),
          sel(/Kickstart/, DEFAULT),
          inp(/Kickstart file/, DEFAULT),
        ],
        {
          lintKickstart: (f, o) => {
            linted.push([f, o]);
            return Promise.resolve(linted.length === 1 ? findings : [findings[1]!]);
          },
        },
      );
      const k = await askKickstart(d, FEDORA, DEVICES[1]);
      const opts = { assignedNic: { mac: 'a0:36:9f:11:22:33' } };
      expect(linted).to.deep.equal([
        [`${dir}/ks.cfg`, opts],
        [`${dir}/ks.cfg`, opts],
      ]);
      expect(out).to.equal(
        [
          "  ks.cfg:3: error UNKNOWN_COMMAND: unknown command 'rootpwd'",
          '  inc.cfg:1: warning NO_POST: no %post section',
          '  ✗ kickstart lint: 1 error, 1 warning: fix ks.cfg or choose again',
          '  inc.cfg:1: warning NO_POST: no %post section',
          '  kickstart lint: 0 errors, 1 warning',
          '',
        ].join('\n'),
      );
      expect(p.find(/Kickstart file/).rejections).to.deep.equal([
        'tree is not a file',
        'no such file or directory: no.cfg',
      ]);
      expect(p.calls[2]!.config.default).to.equal('file');
      expect(p.calls[3]!.config.default).to.equal('ks.cfg');
      expect(k.options).to.deep.equal({ kickstart: `${dir}/ks.cfg` });
    });

    it('an unreadable %include is shown and asks again; --os-variant and a template are kept', async () => {
      let n = 0;
      const { d } = deps(
        [
          sel(/Kickstart/, 'file'),
          inp(/Kickstart file/, 'ks.cfg'),
          sel(/Kickstart/, 'built-in'),
          inp(/OS variant/, DEFAULT),
        ],
        {
          initial: { osVariant: 'debian12', kickstart: 'debian' },
          lintKickstart: () =>
            n++ === 0
              ? Promise.reject(
                  inputError('KICKSTART_INCLUDE', 'cannot read %include part.cfg', { hint: 'x' }),
                )
              : Promise.resolve([]),
        },
      );
      const k = await askKickstart(d);
      expect(out).to.equal('  ✗ cannot read %include part.cfg (hint: x)\n');
      expect(k.options).to.deep.equal({ osVariant: 'debian12', kickstart: 'debian' });
    });

    it('the install reads the kickstart file back from the command line', async () => {
      const { d } = deps([sel(/Kickstart/, 'file'), inp(/Kickstart file/, 'ks.cfg')]);
      const k = await askKickstart(d);
      const req = parseInstallRequest(
        { ...k.options, cdrom: '/x.iso', disk: ['size=1'], name: 'a' },
        '/elsewhere',
      );
      expect(req.kickstart).to.equal(`${dir}/ks.cfg`);
    });
  });

  describe('the whole wizard', () => {
    const happy = (): ScriptStep[] => [
      inp(/Guest name/, 'web1'),
      inp(/Memory/, DEFAULT),
      num(/vCPUs/, DEFAULT),
      num(/Disk size/, DEFAULT),
      sel(/Install media/, 'cdrom'),
      inp(/ISO/, 'os.iso'),
      sel(/^Network/, 'hostdev'),
      sel(/Device to assign/, '0000:05:00.0'),
      yes(/user networking/),
      sel(/^Disk/, 'new'),
      sel(/Kickstart/, 'built-in'),
      inp(/OS variant/, DEFAULT),
      yes(/Run it now/),
    ];

    it('with the real providers on a fixture host: options returned, command line printed first, host only read', async () => {
      await withHostTree(loadProfile('two-nics'), async (root) => {
        const before = await snapshotTree(root);
        const initial: RawInstallArgs = {
          accel: 'auto',
          onError: 'cleanup',
          dryRun: true,
          logDir: '/var/log/ig',
        };
        const script = happy();
        script[5] = inp(/ISO/, ISO);
        const { d, p } = deps(script, {
          ...defaultProviders(createHost({ root }), { cwd: dir, env: {} }),
          initial,
          globals: { hostRoot: root },
        });
        const raw = await runWizard(d);
        expect(raw).to.deep.equal({
          ...initial,
          name: 'web1',
          memory: '2048',
          vcpus: '2',
          cdrom: ISO,
          disk: ['size=8'],
          network: 'user',
          hostdev: ['0000:05:00.0'],
        });
        expect(p.remaining).to.equal(0);
        const printed = shellQuote(['install-guest', ...toCommandLine(raw!, { hostRoot: root })]);
        expect(out).to.include(`Equivalent command:\n  ${printed}\n`);
        expect(printed).to.match(
          / --hostdev 0000:05:00\.0 .*--dry-run --log-dir \/var\/log\/ig --host-root /,
        );
        expect(out).to.include('  Fixture Linux 1 x86_64\n'); // what media inspect found
        expect(out).to.include(`${STEPS.length}/${STEPS.length} Summary`);
        expect(out).to.include('2048 MiB (all of it is pinned while a device is assigned)');
        expect(out).to.include('dry run    yes: nothing on the host changes');
        const greyed = p
          .find(/Device to assign/)
          .config.choices!.find((c) => 'value' in c && c.value === '0000:00:1f.6');
        expect(greyed && 'disabled' in greyed && greyed.disabled).to.match(/^\(not assignable: eno1 on /);
        expect(await snapshotTree(root)).to.deep.equal(before);
        expect((await readdir(dir)).filter((f) => f.startsWith('web1'))).to.deep.equal([]);
      });
    });

    it('returns null when the final confirm is declined', async () => {
      const script = happy();
      script[script.length - 1] = yes(/Run it now/, false);
      const { d } = deps(script);
      expect(await runWizard(d)).to.equal(null);
      expect(out).to.include('Equivalent command:');
    });

    it('skips disk and kickstart when importing', async () => {
      const { d, p } = deps(
        [
          inp(/Guest name/, 'imp'),
          inp(/Memory/, DEFAULT),
          num(/vCPUs/, 1),
          num(/Disk size/, DEFAULT),
          sel(/Install media/, 'import'),
          inp(/Disk image/, 'old.qcow2'),
          sel(/^Network/, 'user'),
          yes(/Run it now/),
        ],
        { initial: { osVariant: 'fedora40', extraArgs: 'quiet', dryRun: true } },
      );
      const raw = await runWizard(d);
      expect(raw).to.deep.equal({
        dryRun: true,
        osVariant: 'fedora40',
        extraArgs: 'quiet',
        name: 'imp',
        memory: '2048',
        vcpus: '1',
        import: true,
        disk: [`path=${dir}/old.qcow2`],
        network: 'user',
      });
      expect(p.calls.map((c) => c.config.message).filter((m) => /Kickstart|^Disk$/.test(m))).to.deep.equal(
        [],
      );
      expect(p.calls.map((c) => c.config.message)).to.include('Disk size (GiB, for a new disk)');
    });

    const stepOfPrompt: [RegExp, string][] = [
      [/Guest name/, 'name and resources'],
      [/Install media/, 'install media'],
      [/Device to assign/, 'network'],
      [/^Disk/, 'disk'],
      [/OS variant/, 'kickstart'],
      [/Run it now/, 'summary'],
    ];
    for (const [prompt, step] of stepOfPrompt)
      it(`Ctrl-C at the ${step} step: WIZARD_CANCELLED, exit 130`, async () => {
        const script = happy();
        const i = script.findIndex((s) => s.message.source === prompt.source);
        expect(i, 'the prompt is in the script').to.be.greaterThan(-1);
        const { d } = deps([...script.slice(0, i), { ...script[i]!, answer: ctrlC() }]);
        const e = await runWizard(d).then(
          () => null,
          (x: unknown) => x,
        );
        expect(isInstallGuestError(e) && e.code).to.equal('WIZARD_CANCELLED');
        expect(isInstallGuestError(e) && e.exitCode).to.equal(130);
        expect((e as Error).message).to.equal(
          `interactive install cancelled at the ${step} step; nothing on the host was changed`,
        );
      });

    it('an aborted signal (SIGTERM while asking) cancels the same way', async () => {
      const abort = Object.assign(new Error('Prompt was aborted'), { name: 'AbortPromptError' });
      const { d } = deps([inp(/Guest name/, abort)]);
      const e = await runWizard(d).then(
        () => null,
        (x: unknown) => x,
      );
      expect(isInstallGuestError(e) && e.code).to.equal('WIZARD_CANCELLED');
    });

    it('passes other errors through unchanged', async () => {
      const { d } = deps([inp(/Guest name/, 'a'), inp(/Memory/, new TypeError('boom'))]);
      const e = await runWizard(d).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).to.be.instanceOf(TypeError);
    });
  });
});
