/**
 * Parity with virt-install 4.1: realistic command lines run through real virt-install (Debian's
 * virtinst, `--connect` to libvirt's test driver with a <node> file declaring the same host devices
 * as the install-guest host fixture, `--dry-run --print-xml`) and through the built
 * `install-guest install --dry-run --print-xml`. The two domain XMLs are compared element by
 * element for memory, vCPUs, disks, interfaces, hostdevs (host and guest addresses), TPM and RNG.
 * Each line either matches, or install-guest refuses it with exit 2 and one line naming the option.
 *
 * Compared honestly: a value is compared when virt-install prints it. Skipped, and counted:
 * - values virt-install picks from libosinfo or the driver's capabilities when the line does not
 *   name them (vCPU count, disk bus, NIC model, MAC): the test driver models an i686 guest;
 * - --virt-type qemu goes to install-guest only: the test driver's only domain type is `test`;
 * - <os> (firmware, kernel): install-guest's XML is the installed guest (it boots its disk), and
 *   the test driver has no UEFI ("Libvirt version does not support UEFI"), so for --boot uefi lines
 *   install-guest's loader/nvram are checked against OVMF's files instead;
 * - disk <driver> attributes (format, cache, io, discard): the test driver prints no <driver>.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildHostTree, loadProfile } from '../helpers/sysfs-fixture.js';

const run = promisify(execFile);
const CLI = path.resolve('dist/bin/install-guest.mjs');
const MEDIA = path.resolve('fixtures/cases/_media');
const KERNEL = `kernel=${MEDIA}/vmlinuz,initrd=${MEDIA}/initrd.img`;
const TREE = path.resolve('fixtures/media/trees/fedora-39');

/** The host devices of fixtures/hosts/two-nics, as libvirt's test driver declares them. */
const NODE_XML = `<node>
  <cpu><mode>fixed</mode></cpu>
  <network><name>default</name><bridge name='virbr0'/><forward/><ip address='192.168.122.1' netmask='255.255.255.0'/></network>
  <pool type='dir'><name>default</name><target><path>/var/lib/libvirt/images</path></target></pool>
  <device><name>computer</name><capability type='system'>
    <hardware><vendor>QEMU</vendor><version>1</version><serial>1</serial><uuid>11111111-2222-3333-4444-555555555555</uuid></hardware>
    <firmware><vendor>SeaBIOS</vendor><version>1</version><release_date>01/01/2020</release_date></firmware>
  </capability></device>
  <device><name>pci_0000_05_00_0</name><parent>computer</parent><driver><name>igb</name></driver>
    <capability type='pci'><class>0x020000</class><domain>0</domain><bus>5</bus><slot>0</slot><function>0</function>
      <product id='0x1533'>I210 Gigabit Network Connection</product><vendor id='0x8086'>Intel Corporation</vendor>
      <iommuGroup number='15'><address domain='0x0000' bus='0x05' slot='0x00' function='0x0'/></iommuGroup>
    </capability></device>
  <device><name>pci_0000_00_1f_6</name><parent>computer</parent><driver><name>e1000e</name></driver>
    <capability type='pci'><class>0x020000</class><domain>0</domain><bus>0</bus><slot>31</slot><function>6</function>
      <product id='0x15b8'>Ethernet Connection (2) I219-V</product><vendor id='0x8086'>Intel Corporation</vendor>
      <iommuGroup number='9'><address domain='0x0000' bus='0x00' slot='0x1f' function='0x6'/></iommuGroup>
    </capability></device>
</node>
`;

interface Line {
  /** what the line shows */
  what: string;
  args: string[];
  /** install-guest refuses it: the option its error line must name */
  refuses?: string;
  /** given to install-guest only: the test driver cannot take it (its domain type is `test`) */
  installGuestOnly?: string[];
}

/** {d} is the test's private directory */
const LINES: Line[] = [
  {
    what: 'minimal kernel boot',
    args: ['--memory', '1024', '--disk', 'path={d}/a.qcow2,size=4', '--boot', KERNEL],
  },
  { what: '--ram (old spelling)', args: ['--ram', '2048', '--disk', '{d}/a.qcow2,size=4', '--boot', KERNEL] },
  {
    what: 'vcpus',
    args: ['--memory', '1024', '--vcpus', '4', '--disk', '{d}/a.qcow2,size=4', '--boot', KERNEL],
  },
  {
    what: 'vcpus maxvcpus',
    args: ['--memory', '1024', '--vcpus', '2,maxvcpus=4', '--disk', '{d}/a.qcow2,size=4', '--boot', KERNEL],
  },
  {
    what: 'vcpus topology',
    args: [
      '--memory',
      '1024',
      '--vcpus',
      '4,sockets=1,cores=2,threads=2',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'memory=,currentMemory= equal',
    args: ['--memory', 'memory=1536,currentMemory=1536', '--disk', '{d}/a.qcow2,size=4', '--boot', KERNEL],
  },
  {
    what: 'memory maxmemory (ballooned)',
    args: ['--memory', '1024,maxmemory=2048', '--disk', '{d}/a.qcow2,size=4', '--boot', KERNEL],
    refuses: '--memory',
  },
  {
    what: 'disk bus virtio, cache none, io native, discard unmap',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4,bus=virtio,cache=none,io=native,discard=unmap',
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'disk serial, readonly second disk',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4,bus=virtio,serial=root0',
      '--disk',
      `${MEDIA}/existing.qcow2,bus=virtio,readonly=on`,
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'disk boot.order',
    args: ['--memory', '1024', '--disk', '{d}/a.qcow2,size=4,bus=virtio,boot.order=1', '--boot', KERNEL],
  },
  {
    what: 'disk sata',
    args: ['--memory', '1024', '--disk', '{d}/a.qcow2,size=4,bus=sata', '--boot', KERNEL],
  },
  {
    what: 'two disks virtio and scsi',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4,bus=virtio',
      '--disk',
      '{d}/b.qcow2,size=2,bus=scsi',
      '--boot',
      KERNEL,
    ],
  },
  { what: '--disk none', args: ['--memory', '1024', '--disk', 'none', '--noreboot', '--boot', KERNEL] },
  {
    what: 'disk in a libvirt pool',
    args: ['--memory', '1024', '--disk', 'pool=default,size=4', '--boot', KERNEL],
    refuses: '--disk',
  },
  {
    what: 'disk cdrom device',
    args: ['--memory', '1024', '--disk', `${MEDIA}/install.iso,device=cdrom`, '--boot', KERNEL],
    refuses: '--disk',
  },
  {
    what: 'bridge, virtio model',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--network',
      'bridge=br0,model=virtio',
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'bridge:NAME old spelling, e1000e, mac',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--network',
      'bridge:br0,model=e1000e,mac=52:54:00:12:34:56',
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'rtl8139 model',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--network',
      'bridge=br1,model=rtl8139',
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'e1000 model, -w',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '-w',
      'bridge=br0,model=e1000',
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'no network',
    args: ['--memory', '1024', '--disk', '{d}/a.qcow2,size=4', '--network', 'none', '--boot', KERNEL],
  },
  {
    what: 'libvirt network',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--network',
      'network=default,model=virtio',
      '--boot',
      KERNEL,
    ],
    refuses: '--network',
  },
  {
    what: 'broadcast MAC',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--network',
      'bridge=br0,mac=ff:ff:ff:ff:ff:ff',
      '--boot',
      KERNEL,
    ],
    refuses: '--network',
  },
  {
    what: 'hostdev by address',
    args: ['--memory', '1024', '--disk', '{d}/a.qcow2,size=4', '--hostdev', '0000:05:00.0', '--boot', KERNEL],
  },
  {
    what: 'hostdev by libvirt name, --host-device',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--host-device',
      'pci_0000_05_00_0',
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'hostdev short address, guest address on bus 0, driver vfio',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--hostdev',
      '05:00.0,address.type=pci,address.domain=0x0000,address.bus=0x00,address.slot=0x07,address.function=0x0,driver.name=vfio',
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'hostdev rom bar off',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--hostdev',
      '0000:05:00.0,rom.bar=off',
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'hostdev USB vendor:product',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--hostdev',
      '0x8086:0x1533',
      '--boot',
      KERNEL,
    ],
    refuses: '--hostdev',
  },
  {
    what: 'tpm emulator',
    args: ['--memory', '1024', '--disk', '{d}/a.qcow2,size=4', '--tpm', 'emulator', '--boot', KERNEL],
  },
  {
    what: 'tpm default, tis model',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--tpm',
      'default,model=tpm-tis',
      '--boot',
      KERNEL,
    ],
  },
  {
    what: 'rng /dev/urandom',
    args: ['--memory', '1024', '--disk', '{d}/a.qcow2,size=4', '--rng', '/dev/urandom', '--boot', KERNEL],
  },
  {
    what: 'kickstart idiom (inject + inst.ks=file:/) from a local tree',
    args: [
      '--memory',
      '2048',
      '--disk',
      '{d}/a.qcow2,size=8',
      '--network',
      'user,model=virtio',
      '--location',
      TREE,
      '--initrd-inject',
      '{d}/ks.cfg',
      '--extra-args',
      'inst.ks=file:/ks.cfg console=ttyS0',
      '--osinfo',
      'detect=on,require=off',
    ],
  },
  {
    what: 'the pasted no-ops: --noautoconsole --graphics none --console --wait -1 --check --noreboot',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--boot',
      KERNEL,
      '--noautoconsole',
      '--graphics',
      'none',
      '--console',
      'pty,target_type=serial',
      '--wait',
      '-1',
      '--check',
      'path_in_use=off',
      '--noreboot',
    ],
  },
  {
    what: '--virt-type qemu, --osinfo name=',
    args: [
      '--memory',
      '1024',
      '--disk',
      '{d}/a.qcow2,size=4',
      '--boot',
      KERNEL,
      '--osinfo',
      'name=fedora37,require=off',
    ],
    installGuestOnly: ['--virt-type', 'qemu'],
  },
  {
    what: 'UEFI',
    args: ['--memory', '1024', '--disk', '{d}/a.qcow2,size=4', '--boot', 'uefi', '--boot', KERNEL],
  },
  {
    what: 'graphics vnc',
    args: ['--memory', '1024', '--disk', '{d}/a.qcow2,size=4', '--graphics', 'vnc', '--boot', KERNEL],
    refuses: '--graphics',
  },
  {
    what: 'video device',
    args: ['--memory', '1024', '--disk', '{d}/a.qcow2,size=4', '--video', 'qxl', '--boot', KERNEL],
    refuses: '--video',
  },
  {
    what: 'memory as a fraction',
    args: ['--memory', '1.5', '--disk', '{d}/a.qcow2,size=4', '--boot', KERNEL],
    refuses: '--memory',
  },
  {
    what: 'cdrom install',
    args: ['--memory', '1024', '--disk', '{d}/a.qcow2,size=4,bus=virtio', '--cdrom', `${MEDIA}/install.iso`],
  },
];

// ------------------------------------------------------------------------------------------
// a small XML reader: enough for libvirt domain XML (elements, attributes, text)

interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

function unescape(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function parseXml(xml: string): El {
  const root: El = { name: '#root', attrs: {}, children: [], text: '' };
  const stack = [root];
  const re =
    /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/g;
  for (const m of xml.matchAll(re)) {
    const top = stack[stack.length - 1]!;
    if (m[1]) stack.pop();
    else if (m[2]) {
      const attrs: Record<string, string> = {};
      for (const a of m[3]!.matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g))
        attrs[a[1]!] = unescape(a[2] ?? a[3] ?? '');
      const el: El = { name: m[2], attrs, children: [], text: '' };
      top.children.push(el);
      if (!m[4]) stack.push(el);
    } else if (m[5]) top.text += unescape(m[5]).trim();
  }
  return root.children[0]!;
}

const kids = (e: El | undefined, name: string): El[] => (e ? e.children.filter((c) => c.name === name) : []);
const kid = (e: El | undefined, name: string): El | undefined => kids(e, name)[0];

/** memory in KiB whatever the unit */
function kib(e: El | undefined): number | undefined {
  if (!e) return undefined;
  const n = Number(e.text);
  const unit = (e.attrs.unit ?? 'KiB').toLowerCase();
  return unit === 'mib' || unit === 'm' ? n * 1024 : unit === 'gib' || unit === 'g' ? n * 1024 * 1024 : n;
}

const num = (v: string | undefined): number | undefined =>
  v === undefined ? undefined : /^0x/i.test(v) ? parseInt(v, 16) : Number(v);

function pciAddr(e: El | undefined): string | undefined {
  if (!e) return undefined;
  return ['domain', 'bus', 'slot', 'function'].map((k) => num(e.attrs[k]) ?? 0).join(':');
}

/** The compared facts of a domain, by field name; undefined = not shown. */
function facts(xml: string): Map<string, string | number | undefined> {
  const d = parseXml(xml);
  const f = new Map<string, string | number | undefined>();
  f.set('memory', kib(kid(d, 'memory')));
  f.set('currentMemory', kib(kid(d, 'currentMemory')));
  const vcpu = kid(d, 'vcpu');
  f.set('vcpu', num(vcpu?.text));
  f.set('vcpu.current', num(vcpu?.attrs.current) ?? num(vcpu?.text));
  const topo = kid(kid(d, 'cpu'), 'topology');
  if (topo) f.set('cpu.topology', `${topo.attrs.sockets}/${topo.attrs.cores}/${topo.attrs.threads}`);
  const devices = kid(d, 'devices');
  const disks = kids(devices, 'disk').filter((x) => x.attrs.device === 'disk');
  f.set('disks', disks.length);
  disks.forEach((x, i) => {
    const p = `disk${i}`;
    f.set(`${p}.source`, kid(x, 'source')?.attrs.file ?? kid(x, 'source')?.attrs.dev);
    f.set(`${p}.bus`, kid(x, 'target')?.attrs.bus);
    f.set(`${p}.serial`, kid(x, 'serial')?.text);
    f.set(`${p}.readonly`, kid(x, 'readonly') ? 'yes' : 'no');
    f.set(`${p}.boot.order`, num(kid(x, 'boot')?.attrs.order));
    const drv = kid(x, 'driver');
    for (const k of ['type', 'cache', 'io', 'discard']) f.set(`${p}.driver.${k}`, drv?.attrs[k]);
  });
  const nics = kids(devices, 'interface');
  f.set('interfaces', nics.length);
  nics.forEach((x, i) => {
    const p = `interface${i}`;
    f.set(`${p}.type`, x.attrs.type);
    f.set(`${p}.source.bridge`, kid(x, 'source')?.attrs.bridge);
    f.set(`${p}.model`, kid(x, 'model')?.attrs.type);
    f.set(`${p}.mac`, kid(x, 'mac')?.attrs.address);
  });
  const hostdevs = kids(devices, 'hostdev');
  f.set('hostdevs', hostdevs.length);
  hostdevs.forEach((x, i) => {
    const p = `hostdev${i}`;
    f.set(`${p}.type`, x.attrs.type);
    f.set(`${p}.managed`, x.attrs.managed);
    f.set(`${p}.source`, pciAddr(kid(kid(x, 'source'), 'address')));
    f.set(`${p}.guest`, pciAddr(kid(x, 'address')));
    f.set(`${p}.rom.bar`, kid(x, 'rom')?.attrs.bar);
  });
  const tpms = kids(devices, 'tpm');
  f.set('tpms', tpms.length);
  tpms.forEach((x, i) => {
    f.set(`tpm${i}.model`, x.attrs.model);
    f.set(`tpm${i}.backend`, kid(x, 'backend')?.attrs.type);
  });
  const rngs = kids(devices, 'rng');
  f.set('rngs', rngs.length);
  rngs.forEach((x, i) => {
    f.set(`rng${i}.model`, x.attrs.model);
    f.set(`rng${i}.backend`, `${kid(x, 'backend')?.attrs.model}:${kid(x, 'backend')?.text}`);
  });
  return f;
}

/** Fields virt-install fills from libosinfo / the driver when the line does not name them: skipped then. */
function defaultedBy(field: string, args: string[]): string | undefined {
  const values = (...opts: string[]): string => args.filter((_, j) => opts.includes(args[j - 1]!)).join(' ');
  if (/^disk\d+\.bus$/.test(field) && !/(^|,)bus=/.test(values('--disk')))
    return 'disk bus picked by libosinfo (not named)';
  if (/^interface\d+\.model$/.test(field) && !/model=/.test(values('--network', '-w')))
    return 'NIC model picked by libosinfo (not named)';
  if (/^interface\d+\.mac$/.test(field) && !/mac=/.test(values('--network', '-w')))
    return 'MAC generated (not named)';
  if (/^disk\d+\.driver\./.test(field)) return 'the test driver prints no disk <driver>';
  if (/^vcpu/.test(field) && !args.includes('--vcpus')) return 'vCPU count picked by libosinfo (not named)';
  return undefined;
}

describe('virt-install parity (virt-install 4.1 with the test driver vs install-guest --dry-run --print-xml)', function () {
  this.timeout(300_000);
  let dir: string;
  let hostRoot: string;
  const tally = { matched: 0, refused: 0, fieldsCompared: 0, skipped: new Map<string, number>() };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-parity-'));
    hostRoot = path.join(dir, 'host');
    await buildHostTree(loadProfile('two-nics'), hostRoot);
    await writeFile(path.join(dir, 'node.xml'), NODE_XML);
    await writeFile(
      path.join(dir, 'ks.cfg'),
      [
        'text',
        'lang en_US.UTF-8',
        'keyboard us',
        'timezone UTC --utc',
        'rootpw --lock',
        'zerombr',
        'clearpart --all --initlabel',
        'autopart',
        'poweroff',
        '%packages',
        '@core',
        '%end',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    const skipped = [...tally.skipped].map(([why, n]) => `${n}× ${why}`).join('; ');
    console.log(
      `virt-install parity: ${LINES.length} lines: ${tally.matched} match, ${tally.refused} refused by install-guest (exit 2, option named); ${tally.fieldsCompared} fields compared; skipped: ${skipped}`,
    );
    await rm(dir, { recursive: true, force: true });
  });

  /** the line's arguments; virt-install 4.1 requires an OS name, so lines without one say what pasted lines say */
  const argsOf = (line: Line): string[] => {
    const given = line.args.map((a) => a.replaceAll('{d}', dir));
    return given.some((a) => a === '--osinfo' || a === '--os-variant')
      ? given
      : [...given, '--osinfo', 'detect=on,require=off'];
  };

  // virt-install takes ~1-2 s a line (Python start-up): the runs start in before(), three at a time,
  // and each test awaits its own
  type Ran = { code: number; stdout: string; stderr: string };
  const viRuns = new Map<string, Promise<Ran>>();
  let slots = 3;
  const waiting: (() => void)[] = [];
  const virtInstall = (name: string, args: string[]): Promise<Ran> => {
    const key = JSON.stringify([name, args]);
    let p = viRuns.get(key);
    if (!p) {
      p = (async () => {
        if (slots === 0) await new Promise<void>((resolve) => waiting.push(resolve));
        slots--;
        try {
          return await run(
            'virt-install',
            [
              '--connect',
              `test://${path.join(dir, 'node.xml')}`,
              '--dry-run',
              '--print-xml',
              '--name',
              name,
              ...args,
            ],
            { cwd: dir },
          ).then(
            (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
            (e: Ran) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
          );
        } finally {
          slots++;
          waiting.shift()?.();
        }
      })();
      viRuns.set(key, p);
    }
    return p;
  };

  before(() => {
    for (const [i, line] of LINES.entries()) if (!line.refuses) void virtInstall(`p${i + 1}`, argsOf(line));
  });

  it('has at least 30 lines', () => {
    expect(LINES.length).to.be.at.least(30);
  });

  for (const [i, line] of LINES.entries()) {
    it(`${i + 1}. ${line.what}`, async () => {
      const args = argsOf(line);
      const name = `p${i + 1}`;
      const ig = await run(
        process.execPath,
        [
          CLI,
          'install',
          '--dry-run',
          '--print-xml',
          '--name',
          name,
          '--log-dir',
          path.join(dir, `${name}-logs`),
          ...args,
          ...(line.installGuestOnly ?? []),
        ],
        { cwd: dir, env: { ...process.env, INSTALL_GUEST_HOST_ROOT: hostRoot } },
      ).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      if (line.refuses) {
        expect(ig.code, ig.stderr).to.equal(2);
        const lines = ig.stderr.split('\n').filter((l) => l.startsWith('install-guest:'));
        expect(lines, ig.stderr).to.have.length(1);
        expect(lines[0]).to.include(line.refuses);
        tally.refused++;
        return;
      }
      expect(ig.code, ig.stderr).to.equal(0);
      const vi = { ...(await virtInstall(name, args)) };
      const uefi = args.some((a, j) => args[j - 1] === '--boot' && /(^|,)uefi(,|$)/.test(a));
      if (uefi) {
        // the test driver has no UEFI: virt-install says so; install-guest's firmware is OVMF with a private vars copy
        expect(vi.stderr).to.match(/does not support UEFI/);
        const os_ = kid(parseXml(ig.stdout), 'os');
        expect(kid(os_, 'loader')?.text).to.equal('/usr/share/OVMF/OVMF_CODE_4M.fd');
        expect(kid(os_, 'nvram')?.attrs.template).to.equal('/usr/share/OVMF/OVMF_VARS_4M.fd');
        expect(kid(os_, 'nvram')?.text).to.equal(path.join(dir, `${name}-logs`, `${name}_VARS.fd`));
        tally.skipped.set('UEFI line: the test driver has no UEFI (OVMF paths checked instead)', 1);
        // the rest of the line without uefi
        const rest = args.filter((a, j) => !(a === 'uefi' || (a === '--boot' && args[j + 1] === 'uefi')));
        const vi2 = await virtInstall(name, rest);
        expect(vi2.code, vi2.stderr).to.equal(0);
        vi.stdout = vi2.stdout;
        vi.code = 0;
      }
      expect(vi.code, `virt-install: ${vi.stderr}`).to.equal(0);
      const want = facts(vi.stdout);
      const got = facts(ig.stdout);
      const diffs: string[] = [];
      for (const [field, v] of want) {
        if (v === undefined) continue;
        const why = defaultedBy(field, args);
        if (why) {
          tally.skipped.set(why, (tally.skipped.get(why) ?? 0) + 1);
          continue;
        }
        tally.fieldsCompared++;
        if (got.get(field) !== v)
          diffs.push(`${field}: virt-install ${String(v)}, install-guest ${String(got.get(field))}`);
      }
      // what install-guest adds must be in virt-install's XML too (tpm, rng, hostdev guest address, …)
      for (const [field, v] of got) {
        if (v === undefined || want.get(field) !== undefined || defaultedBy(field, args)) continue;
        if (/\.readonly$/.test(field) && v === 'no') continue;
        diffs.push(`${field}: install-guest ${String(v)}, virt-install shows none`);
      }
      expect(diffs, diffs.join('\n')).to.deep.equal([]);
      // --extra-args: virt-install's <cmdline> is the install boot's; install-guest's XML is the installed
      // guest, so its install argv is checked: every argument once, the user's kickstart the answer file
      const extra = args[args.indexOf('--extra-args') + 1];
      if (args.includes('--extra-args') && extra) {
        const cmdline = kid(kid(parseXml(vi.stdout), 'os'), 'cmdline')?.text ?? '';
        expect(cmdline).to.equal(extra);
        const plan = JSON.parse(
          (
            await run(
              process.execPath,
              [
                CLI,
                'install',
                '--dry-run',
                '--json',
                '--name',
                name,
                '--log-dir',
                path.join(dir, `${name}-logs`),
                ...args,
              ],
              { cwd: dir, env: { ...process.env, INSTALL_GUEST_HOST_ROOT: hostRoot } },
            )
          ).stdout,
        ) as { argv: { install: string[] }; answerFile: { source: string } };
        const append = plan.argv.install[plan.argv.install.indexOf('-append') + 1]!.split(' ');
        for (const a of extra.split(' '))
          expect(
            append.filter((x) => x === a),
            a,
          ).to.have.length(1);
        expect(append.filter((x) => /^(inst\.)?ks=/.test(x))).to.deep.equal(['inst.ks=file:/ks.cfg']);
        expect(append.filter((x) => x.startsWith('console='))).to.deep.equal(['console=ttyS0']);
        expect(plan.answerFile.source).to.include(path.join(dir, 'ks.cfg'));
        tally.fieldsCompared++;
      }
      if (line.installGuestOnly) tally.skipped.set('--virt-type qemu: the test driver has only type test', 1);
      tally.matched++;
    });
  }
});
