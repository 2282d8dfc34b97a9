import { expect } from 'chai';
import { execa } from 'execa';
import { installOptions } from '../../../src/cli/install.js';
import { parseInstallArgv } from '../../../src/cli/wizard.js';
import { pickInstallArgs } from '../../../src/request/options.js';
import type { RawInstallArgs } from '../../../src/request/request.js';
import {
  OPTION_DEFAULTS,
  quoteWord,
  shellQuote,
  subValue,
  toCommandLine,
} from '../../../src/wizard/command-line.js';

/** How a real POSIX shell splits a displayed line into words (what a user gets by pasting it). */
async function shWords(line: string): Promise<string[]> {
  const r = await execa('sh', ['-c', `printf '%s\\0' ${line}`]);
  return r.stdout.split('\0').slice(0, -1);
}

describe('wizard command line', () => {
  describe('shellQuote (display only)', () => {
    const words = [
      'plain',
      '--disk',
      'size=8',
      'path=/var/lib/a,,b.qcow2,size=4',
      '',
      'web 1',
      "it's",
      '$(touch /tmp/pwned)',
      '`id`',
      'a;b|c&d',
      '~/x',
      '*.iso',
      'tab\there',
      'quote"d',
      "'",
      '#comment',
      'ünïcode',
      'back\\slash',
      '!bang',
    ];
    it('a POSIX shell reads every quoted word back as one unchanged word', async () => {
      expect(await shWords(words.map(quoteWord).join(' '))).to.deep.equal(words);
    });

    it('leaves safe words bare and quotes the rest', () => {
      expect(shellQuote(['install-guest', 'install', '--name', 'web1', '--memory', '2G'])).to.equal(
        'install-guest install --name web1 --memory 2G',
      );
      expect(shellQuote(['--name', 'web 1', '--extra-args', "inst.ks=file:/k's.cfg"])).to.equal(
        `--name 'web 1' --extra-args 'inst.ks=file:/k'\\''s.cfg'`,
      );
      expect(shellQuote(['--name', ''])).to.equal(`--name ''`);
    });

    it('keeps a whole argv intact through the shell', async () => {
      const argv = ['install-guest', 'install', '--name', "web 1's", '--disk', 'path=/a b/c.qcow2,size=4'];
      expect(await shWords(shellQuote(argv))).to.deep.equal(argv);
    });
  });

  it('escapes commas inside virt-install sub-option values', () => {
    expect(subValue('/srv/a,b.qcow2')).to.equal('/srv/a,,b.qcow2');
    expect(subValue('/plain')).to.equal('/plain');
  });

  describe('toCommandLine, parsed back by the install command', () => {
    const cases: [string, RawInstallArgs][] = [
      [
        'the wizard’s usual answers',
        {
          name: 'web1',
          memory: '2048',
          vcpus: '2',
          disk: ['size=8'],
          cdrom: '/srv/iso/Fedora.iso',
          hostdev: ['0000:04:00.0'],
          network: 'user',
          dryRun: true,
        },
      ],
      [
        'every option',
        {
          name: 'web,1',
          memory: '2G',
          vcpus: 'vcpus=4,sockets=1,cores=2,threads=2',
          cpu: 'host-passthrough',
          machine: 'pc',
          accel: 'kvm',
          disk: ['path=/a,,b.qcow2,size=4', 'size=2,bus=sata'],
          osVariant: 'fedora40',
          location: 'https://mirror/fedora/40/os/',
          boot: 'kernel=/k/vmlinuz,initrd=/k/initrd.img',
          extraArgs: 'inst.text inst.ks=file:/ks.cfg',
          initrdInject: ['/srv/ks.cfg', '/srv/extra file'],
          hostdev: ['0000:03:00.0,rom.bar=off', '0000:04:00.0'],
          network: 'bridge=br0,model=e1000e',
          graphics: 'none',
          noreboot: true,
          wait: '30',
          dryRun: true,
          printCmdline: true,
          logDir: '/var/log/ig',
          onError: 'keep',
          qemuBinary: '/opt/qemu/bin/qemu-system-x86_64',
        },
      ],
      [
        'values that look like options',
        { name: '-web', extraArgs: '--debug', import: true, disk: ['path=/d.qcow2'] },
      ],
      [
        'numbers and spaces',
        { name: '123', memory: 512, vcpus: 1, extraArgs: 'a  b', import: true, disk: ['/x'] },
      ],
    ];
    for (const [title, raw] of cases)
      it(`round-trips ${title}`, async () => {
        const argv = toCommandLine(raw, { hostRoot: '/tmp/host root' });
        expect(argv[0]).to.equal('install');
        const back = await parseInstallArgv(argv, installOptions);
        expect(back.hostRoot).to.equal('/tmp/host root');
        expect(toCommandLine(back.raw, { hostRoot: back.hostRoot! })).to.deep.equal(argv);
        for (const [k, v] of Object.entries(raw))
          expect(back.raw[k as keyof RawInstallArgs], k).to.deep.equal(
            Array.isArray(v) ? v.map(String) : typeof v === 'number' ? String(v) : v,
          );
      });

    it('is canonical: false flags and the install command’s defaults are left out', () => {
      expect(
        toCommandLine({ name: 'a', accel: 'auto', onError: 'cleanup', dryRun: false, import: false }),
      ).to.deep.equal(['install', '--name', 'a']);
      expect(toCommandLine({ accel: 'tcg', onError: 'keep' })).to.deep.equal([
        'install',
        '--accel',
        'tcg',
        '--on-error',
        'keep',
      ]);
    });

    it('knows every install option and the defaults yargs fills in', async () => {
      const keys = Object.keys(
        pickInstallArgs(
          Object.assign(
            { _: [] },
            ...Object.keys(FULL).map((k) => ({ [k]: FULL[k as keyof RawInstallArgs] })),
          ),
        ),
      );
      expect(keys.sort()).to.deep.equal(Object.keys(FULL).sort());
      const back = await parseInstallArgv(toCommandLine(FULL), installOptions);
      expect(back.raw).to.deep.equal(FULL);
      const empty = await parseInstallArgv(['install'], installOptions);
      expect(empty.raw).to.deep.equal(OPTION_DEFAULTS);
    });
  });
});

/** One value for every RawInstallArgs key (the compiler checks that none is missing). */
const FULL: Required<RawInstallArgs> = {
  name: 'n',
  memory: '1G',
  vcpus: '1',
  cpu: 'max',
  machine: 'q35',
  iommu: 'model=intel',
  accel: 'tcg',
  disk: ['size=1'],
  location: '/l',
  cdrom: '/c',
  fallbackLocation: '/f',
  import: true,
  boot: 'kernel=/k',
  extraArgs: 'x',
  initrdInject: ['/i'],
  osVariant: 'fedora40',
  kickstart: 'fedora',
  kickstartDelivery: 'http',
  ksSet: ['hostname=h'],
  confirmUnit: false,
  cloudInit: 'root-ssh-key=/k.pub',
  unattended: 'profile=jeos',
  hostdev: ['0000:03:00.0'],
  driver: 'vfio-pci',
  group: true,
  force: true,
  keepDevice: true,
  stateDir: '/state',
  network: 'none',
  graphics: 'none',
  tpm: 'emulator',
  rng: '/dev/urandom',
  console: 'pty,target_type=serial',
  autoconsole: 'none',
  noautoconsole: true,
  check: ['all=off'],
  virtType: 'qemu',
  noreboot: true,
  wait: '5',
  stallTimeout: '60',
  earlyBootTimeout: '30',
  dryRun: true,
  printCmdline: true,
  printXml: true,
  printKubevirt: true,
  publishBase: true,
  baseCache: '/bases',
  json: true,
  logDir: '/log',
  onError: 'keep',
  qemuBinary: 'q',
};
