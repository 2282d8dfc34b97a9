/**
 * Hostile inputs across the commands, run against the built CLI (dist/) as a process. Each row of
 * CASES names argv (and optional setup of its own host tree / state dir / scratch dir), the exit code
 * and error code it must give. Every row asserts: that exit code; exactly one `install-guest: … [CODE]`
 * error line on stderr; no stack trace and no "internal error"; and that neither its fake host tree
 * nor its state directory changed (hashed before and after); that no raw control or bidi character
 * and nothing of `mustNotPrint` (a password in a URL, a line of /etc/shadow) reaches the output. A
 * `report` row (kickstart lint's findings) prints no error line at all. Rows run a few at a time,
 * each on its own copy of the tree. Add a row to add a case.
 */
import { expect } from 'chai';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { requireBuiltCli } from '../helpers/cli.js';
import { buildHostTreeSync, generateProfile, loadProfile } from '../helpers/sysfs-fixture.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const ISO = path.join(REPO, 'fixtures/cases/_media/install.iso');
const NIC = '0000:03:00.0';

interface Ctx {
  /** this row's copy of the fake host tree */
  root: string;
  /** this row's state directory (journal/ and leases/, empty) */
  state: string;
  /** a scratch directory for files the row makes */
  scratch: string;
}

interface Case {
  name: string;
  args: (c: Ctx) => string[];
  env?: (c: Ctx) => Record<string, string>;
  setup?: (c: Ctx) => Promise<void>;
  exit: number;
  /** the error code in the error line */
  code: string;
  /** the command owns the state dir (a real recover appends to journals): its hash is not compared */
  ownsState?: boolean;
  /** text that must appear nowhere in the output (a password, another file's lines) */
  mustNotPrint?: string[];
  /** the command's answer is a report of findings (kickstart lint), not one error line */
  report?: boolean;
}

type Rec = Record<string, unknown>;

/** A journal of a run from another boot that detached NIC, with `patch` applied to one record. */
async function hostileJournal(c: Ctx, type: string, patch: Rec): Promise<void> {
  const records: Rec[] = [
    {
      type: 'run',
      v: 1,
      id: 'r1',
      owner: { pid: 1, startTime: '1', bootId: 'gone' },
      guest: 'g',
      command: 'install',
      at: 'x',
    },
    {
      type: 'device',
      address: NIC,
      vendorDevice: '8086:10d3',
      iommuGroup: '7',
      original: { driver: 'e1000e', override: null },
      target: 'vfio-pci',
      reason: 'requested',
    },
    { type: 'dynid', driver: 'pci-stub', id: '8086 10d3', address: NIC },
  ];
  const r = records.find((x) => x.type === type)!;
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('original.')) (r.original as Rec)[k.slice(9)] = v;
    else if (k.startsWith('owner.')) (r.owner as Rec)[k.slice(6)] = v;
    else r[k] = v;
  }
  await writeFile(
    path.join(c.state, 'journal', 'r1.jsonl'),
    records.map((x) => JSON.stringify(x)).join('\n') + '\n',
  );
}

const TRAVERSAL = '../../../../../../../../../tmp/ig-hostile-victim';

// --- host roots that are not one ------------------------------------------------------------------
const BAD_ROOTS: [label: string, make: (c: Ctx) => Promise<string>, code: string][] = [
  ['missing', (c) => Promise.resolve(path.join(c.scratch, 'nope')), 'HOST_ROOT_INVALID'],
  [
    'a file',
    async (c) => {
      await writeFile(path.join(c.scratch, 'f'), 'x');
      return path.join(c.scratch, 'f');
    },
    'HOST_ROOT_INVALID',
  ],
  [
    'a symlink loop',
    async (c) => {
      await symlink('l2', path.join(c.scratch, 'l1'));
      await symlink('l1', path.join(c.scratch, 'l2'));
      return path.join(c.scratch, 'l1');
    },
    'HOST_ROOT_INVALID',
  ],
  [
    'a .tar.gz snapshot',
    async (c) => {
      await writeFile(path.join(c.scratch, 'snap.tar.gz'), 'x');
      return path.join(c.scratch, 'snap.tar.gz');
    },
    'HOST_ROOT_IS_ARCHIVE',
  ],
  [
    'a directory without sys/bus/pci',
    async (c) => {
      await mkdir(path.join(c.scratch, 'empty'));
      return path.join(c.scratch, 'empty');
    },
    'HOST_ROOT_INVALID',
  ],
  [
    'a dangling link',
    async (c) => {
      await symlink(path.join(c.scratch, 'gone'), path.join(c.scratch, 'dangling'));
      return path.join(c.scratch, 'dangling');
    },
    'HOST_ROOT_INVALID',
  ],
];

const ROOT_COMMANDS: [label: string, argv: (c: Ctx) => string[]][] = [
  ['hostdev list', () => ['hostdev', 'list']],
  ['hostdev show', () => ['hostdev', 'show', NIC]],
  ['doctor', () => ['doctor']],
  ['recover', (c) => ['recover', '--state-dir', c.state]],
  ['hostdev detach', (c) => ['hostdev', 'detach', NIC, '--state-dir', c.state]],
  [
    'install --dry-run',
    () => ['install', '--dry-run', '--name', 'g', '--memory', '512', '--disk', 'size=1', '--cdrom', ISO],
  ],
];

const CASES: Case[] = [];
const rootOf = new Map<string, (c: Ctx) => Promise<string>>();
for (const [rl, make, code] of BAD_ROOTS) {
  rootOf.set(rl, make);
  for (const [cl, argv] of ROOT_COMMANDS) {
    let given = '';
    CASES.push({
      name: `${cl} --host-root ${rl}`,
      setup: async (c) => void (given = await make(c)),
      args: (c) => ['--host-root', given, ...argv(c)],
      exit: 2,
      code,
    });
  }
}
for (const [rl, make, code] of BAD_ROOTS.slice(0, 4)) {
  let given = '';
  CASES.push({
    name: `INSTALL_GUEST_HOST_ROOT ${rl} (hostdev list)`,
    setup: async (c) => void (given = await make(c)),
    args: () => ['hostdev', 'list'],
    env: () => ({ INSTALL_GUEST_HOST_ROOT: given }),
    exit: 2,
    code,
  });
}
for (const [cl, argv] of [
  ['media inspect', () => ['media', 'inspect', ISO]],
  ['kickstart lint', () => ['kickstart', 'lint', path.join(REPO, 'fixtures/cases/_media/user.ks')]],
  ['install --interactive', () => ['install', '--interactive']],
  ['batch --dry-run', () => ['batch', path.join(REPO, 'fixtures/batch/fleet.yaml'), '--dry-run']],
  ['hostdev snapshot', (c: Ctx) => ['hostdev', 'snapshot', path.join(c.scratch, 'snap')]],
] as [string, (c: Ctx) => string[]][]) {
  CASES.push({
    name: `${cl} --host-root missing`,
    args: (c) => ['--host-root', path.join(c.scratch, 'nope'), ...argv(c)],
    exit: 2,
    code: 'HOST_ROOT_INVALID',
  });
}

// --- state directories that are not one ----------------------------------------------------------
const BAD_STATES: [label: string, make: (c: Ctx) => Promise<string>, code: string][] = [
  [
    'a file',
    async (c) => {
      await writeFile(path.join(c.scratch, 'sf'), 'x');
      return path.join(c.scratch, 'sf');
    },
    'STATE_DIR_INVALID',
  ],
  ['a file under /proc', () => Promise.resolve('/proc/self/status'), 'STATE_DIR_INVALID'],
  ['a new directory under /proc', () => Promise.resolve('/proc/ig-hostile/state'), 'STATE_DIR_INVALID'],
  ['a foreign directory (/etc)', () => Promise.resolve('/etc'), 'STATE_DIR_INVALID'],
  [
    'a symlink loop',
    async (c) => {
      await symlink('s2', path.join(c.scratch, 's1'));
      await symlink('s1', path.join(c.scratch, 's2'));
      return path.join(c.scratch, 's1');
    },
    'STATE_DIR_INVALID',
  ],
];
for (const [sl, make, code] of BAD_STATES) {
  for (const action of ['detach', 'reattach', 'reset']) {
    let given = '';
    CASES.push({
      name: `hostdev ${action} --state-dir ${sl}`,
      setup: async (c) => void (given = await make(c)),
      args: (c) => ['--host-root', c.root, 'hostdev', action, NIC, '--state-dir', given],
      exit: 2,
      code,
    });
  }
  for (const cmd of ['recover', 'install']) {
    let given = '';
    CASES.push({
      name: `${cmd} --state-dir ${sl}`,
      setup: async (c) => void (given = await make(c)),
      args: (c) =>
        cmd === 'recover'
          ? ['--host-root', c.root, 'recover', '--state-dir', given]
          : [
              '--host-root',
              c.root,
              'install',
              '--dry-run',
              '--name',
              'g',
              '--memory',
              '512',
              '--disk',
              'size=1',
              '--cdrom',
              ISO,
              '--state-dir',
              given,
            ],
      exit: 2,
      code: cmd === 'recover' && sl.includes('new directory') ? 'STATE_DIR_MISSING' : code,
    });
  }
}
CASES.push(
  {
    name: 'recover --state-dir missing: not "nothing to recover"',
    args: (c) => ['--host-root', c.root, 'recover', '--state-dir', path.join(c.scratch, 'missing')],
    exit: 2,
    code: 'STATE_DIR_MISSING',
  },
  {
    name: 'recover with INSTALL_GUEST_STATE_DIR missing',
    args: (c) => ['--host-root', c.root, 'recover'],
    env: (c) => ({ INSTALL_GUEST_STATE_DIR: path.join(c.scratch, 'missing') }),
    exit: 2,
    code: 'STATE_DIR_MISSING',
  },
  {
    name: 'recover --state-dir empty string',
    args: (c) => ['--host-root', c.root, 'recover', '--state-dir', ''],
    exit: 2,
    code: 'STATE_DIR_INVALID',
  },
  {
    name: 'batch --state-dir a file',
    setup: async (c) => writeFile(path.join(c.scratch, 'bf'), 'x'),
    args: (c) => [
      '--host-root',
      c.root,
      'batch',
      path.join(REPO, 'fixtures/batch/fleet.yaml'),
      '--dry-run',
      '--state-dir',
      path.join(c.scratch, 'bf'),
    ],
    exit: 2,
    code: 'STATE_DIR_INVALID',
  },
);

// --- a hostile journal: refused field by field, nothing written ---------------------------------
for (const [type, patch] of [
  ['device', { address: TRAVERSAL }],
  ['device', { 'original.driver': TRAVERSAL }],
  ['device', { 'original.override': TRAVERSAL }],
  ['device', { target: TRAVERSAL }],
  ['device', { iommuGroup: TRAVERSAL }],
  ['device', { reason: '\u001b]0;owned\u0007' }],
  ['dynid', { driver: TRAVERSAL }],
  ['dynid', { id: '8086 10d3\n0000' }],
  ['dynid', { address: TRAVERSAL }],
  ['run', { guest: '\u001b[2J\u202eevil' }],
  ['run', { 'owner.pid': TRAVERSAL }],
] as [string, Rec][]) {
  const [field] = Object.keys(patch);
  for (const dry of [false, true]) {
    CASES.push({
      name: `recover${dry ? ' --dry-run' : ''}: journal ${type}.${field} hostile`,
      setup: (c) => hostileJournal(c, type, patch),
      args: (c) => ['--host-root', c.root, 'recover', '--state-dir', c.state, ...(dry ? ['--dry-run'] : [])],
      exit: 3,
      code: 'RECOVER_INCOMPLETE',
      ownsState: !dry,
    });
  }
}

// --- names that would drive the terminal ----------------------------------------------------------
const BAD_TEXT: [label: string, value: string][] = [
  ['ESC (CSI clear screen)', 'web\u001b[2J'],
  ['bidi override U+202E', 'web\u202eexe.txt'],
  ['zero-width space', 'we\u200bb'],
  ['BEL', 'web\u0007'],
  ['C1 CSI U+009B', 'web\u009b31m'],
  ['bidi isolate U+2066', '\u2066web'],
];
for (const [label, value] of BAD_TEXT) {
  CASES.push({
    name: `install --name with ${label}`,
    args: (c) => [
      '--host-root',
      c.root,
      'install',
      '--dry-run',
      '--name',
      value,
      '--memory',
      '512',
      '--disk',
      'size=1',
      '--cdrom',
      ISO,
    ],
    exit: 2,
    code: 'BAD_VALUE',
  });
}
for (const [label, value] of BAD_TEXT.slice(0, 4)) {
  for (const action of ['detach', 'reattach', 'reset']) {
    CASES.push({
      name: `hostdev ${action} --guest with ${label}`,
      args: (c) => ['--host-root', c.root, 'hostdev', action, NIC, '--guest', value, '--state-dir', c.state],
      exit: 2,
      code: 'BAD_VALUE',
    });
  }
}
CASES.push({
  name: 'hostdev detach --guest longer than 64 characters',
  args: (c) => [
    '--host-root',
    c.root,
    'hostdev',
    'detach',
    NIC,
    '--guest',
    'x'.repeat(300),
    '--state-dir',
    c.state,
  ],
  exit: 2,
  code: 'BAD_VALUE',
});

// --- device arguments that look like paths --------------------------------------------------------
for (const action of ['detach', 'reattach', 'reset']) {
  for (const target of ['../../../../etc', `${NIC}/../../..`]) {
    CASES.push({
      name: `hostdev ${action} ${target}`,
      args: (c) => ['--host-root', c.root, 'hostdev', action, target, '--state-dir', c.state],
      exit: 2,
      code: 'BAD_DEVICE',
    });
  }
}
CASES.push({
  name: 'hostdev show ../../etc',
  args: (c) => ['--host-root', c.root, 'hostdev', 'show', '../../etc'],
  exit: 2,
  code: 'HOSTDEV_SPEC_INVALID',
});

// --- manifests, bases, snapshots -------------------------------------------------------------------
const BOMB = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
  .concat(
    ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map(
      (k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`,
    ),
  )
  .join('\n');
CASES.push(
  {
    name: 'batch: a YAML alias bomb',
    setup: (c) => writeFile(path.join(c.scratch, 'bomb.yaml'), `${BOMB}\n`),
    args: (c) => ['--host-root', c.root, 'batch', path.join(c.scratch, 'bomb.yaml'), '--dry-run'],
    exit: 2,
    code: 'BAD_MANIFEST',
  },
  {
    name: 'provision --base /etc/passwd',
    args: (c) => ['--host-root', c.root, 'provision', '--base', '/etc/passwd', '--name', 't', '--dry-run'],
    exit: 2,
    code: 'BASE_NOT_AN_IMAGE',
  },
  {
    name: 'provision --base a text file named .qcow2',
    setup: (c) => writeFile(path.join(c.scratch, 'x.qcow2'), 'not an image\n'),
    args: (c) => ['--host-root', c.root, 'provision', '--base', path.join(c.scratch, 'x.qcow2'), '--dry-run'],
    exit: 2,
    code: 'BASE_NOT_AN_IMAGE',
  },
  {
    name: 'provision --base an empty file',
    setup: (c) => writeFile(path.join(c.scratch, 'empty.img'), ''),
    args: (c) => [
      '--host-root',
      c.root,
      'provision',
      '--base',
      path.join(c.scratch, 'empty.img'),
      '--dry-run',
    ],
    exit: 2,
    code: 'BASE_NOT_AN_IMAGE',
  },
  {
    name: 'provision --base /dev/null',
    args: (c) => ['--host-root', c.root, 'provision', '--base', '/dev/null', '--dry-run'],
    exit: 2,
    code: 'BASE_NOT_FOUND',
  },
  {
    name: 'provision --base a directory',
    args: (c) => ['--host-root', c.root, 'provision', '--base', c.scratch, '--dry-run'],
    exit: 2,
    code: 'BASE_NOT_FOUND',
  },
  {
    name: 'hostdev snapshot into /proc',
    args: (c) => ['--host-root', c.root, 'hostdev', 'snapshot', '/proc/ig-hostile-snap'],
    exit: 2,
    code: 'SNAPSHOT_OUT_UNWRITABLE',
  },
  {
    name: 'hostdev snapshot onto a file',
    args: (c) => ['--host-root', c.root, 'hostdev', 'snapshot', '/etc/passwd'],
    exit: 2,
    code: 'SNAPSHOT_OUT_UNWRITABLE',
  },
);

// --- every command, the inputs issue 18 tried that the rows above do not cover ---------------------
const MEDIA = path.join(REPO, 'fixtures/cases/_media');
const FLEET = path.join(REPO, 'fixtures/batch/fleet.yaml');
/** the assignable NIC of the two-nics tree (igb, alone in its group) and the one carrying the default route */
const FREE_NIC = '0000:05:00.0';
const ROUTE_NIC = '0000:00:1f.6';
const SECRET = 's3cret-Pw-hostile';
/** the rows that reach qemu's checks (a dry run checks the emulator) find it on PATH */
const withPath = (): Record<string, string> => ({ PATH: process.env.PATH ?? '/usr/bin:/bin' });
const fifo = async (c: Ctx, name = 'fifo'): Promise<string> => {
  const p = path.join(c.scratch, name);
  await execa('mkfifo', [p]);
  return p;
};
/** install --dry-run of the fixture kernel on the row's host tree, plus `extra` */
const dryInstall = (c: Ctx, extra: string[]): string[] => [
  '--host-root',
  c.root,
  'install',
  '--dry-run',
  '--accel',
  'tcg',
  '--name',
  'g',
  '--disk',
  'size=1',
  '--boot',
  `kernel=${MEDIA}/vmlinuz,initrd=${MEDIA}/initrd.img`,
  '--state-dir',
  c.state,
  ...extra,
];
/** A lease another process holds: PID 1, with its real start time and boot id (it is alive). */
async function liveLease(c: Ctx, name: string, guest: string): Promise<void> {
  const stat = await readFile('/proc/1/stat', 'utf8');
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  const dir = path.join(c.state, 'leases', name);
  await mkdir(dir);
  const owner = {
    pid: 1,
    startTime,
    bootId,
    guest,
    command: 'install',
    at: '2026-01-01T00:00:00Z',
    token: 'held',
  };
  await writeFile(path.join(dir, 'owner.held.json'), JSON.stringify(owner));
}
const ADDED: (Omit<Case, 'env'> & { env?: Case['env'] })[] = [
  // the dry run says what the real run says
  {
    name: 'install --dry-run --hostdev the default-route NIC',
    args: (c) => dryInstall(c, ['--hostdev', ROUTE_NIC]),
    exit: 3,
    code: 'HOST_NIC_IN_USE',
  },
  {
    name: 'install --dry-run --hostdev a device a live run leases',
    setup: (c) => liveLease(c, `device-${FREE_NIC}.lock`, 'held'),
    args: (c) => dryInstall(c, ['--hostdev', FREE_NIC]),
    exit: 3,
    code: 'DEVICE_BUSY',
  },
  {
    name: 'hostdev detach a device a live run leases',
    setup: (c) => liveLease(c, `device-${FREE_NIC}.lock`, 'held'),
    args: (c) => ['--host-root', c.root, 'hostdev', 'detach', FREE_NIC, '--state-dir', c.state],
    exit: 3,
    code: 'DEVICE_BUSY',
  },
  {
    name: 'install --dry-run: a lease that is a link out of the state dir',
    setup: async (c) => symlink(c.scratch, path.join(c.state, 'leases', `device-${FREE_NIC}.lock`)),
    args: (c) => dryInstall(c, ['--hostdev', FREE_NIC]),
    exit: 3,
    code: 'LEASE_FAILED',
  },
  {
    name: 'hostdev detach: a lease that is a link out of the state dir',
    setup: async (c) => symlink(c.scratch, path.join(c.state, 'leases', `device-${FREE_NIC}.lock`)),
    args: (c) => ['--host-root', c.root, 'hostdev', 'detach', FREE_NIC, '--state-dir', c.state],
    exit: 3,
    code: 'LEASE_FAILED',
  },
  {
    name: 'install --dry-run --initrd-inject missing.ks',
    args: (c) => dryInstall(c, ['--initrd-inject', 'missing.ks']),
    exit: 2,
    code: 'BAD_INITRD_INJECT',
  },
  {
    name: 'install --dry-run --initrd-inject a FIFO (no hang)',
    setup: async (c) => void (await fifo(c)),
    args: (c) => dryInstall(c, ['--initrd-inject', path.join(c.scratch, 'fifo')]),
    exit: 2,
    code: 'NOT_A_REGULAR_FILE',
  },
  {
    name: 'install --dry-run --kickstart a FIFO (no hang)',
    setup: async (c) => void (await fifo(c)),
    args: (c) => dryInstall(c, ['--kickstart', path.join(c.scratch, 'fifo')]),
    exit: 2,
    code: 'NOT_A_REGULAR_FILE',
  },
  {
    name: 'install --dry-run --kickstart /etc/shadow: refused, no line of it shown',
    args: (c) => dryInstall(c, ['--kickstart', '/etc/shadow']),
    exit: 2,
    code: 'KICKSTART_LINT',
    mustNotPrint: ['root:'],
  },
  {
    name: 'install --dry-run --qemu-binary that does not exist',
    args: (c) => dryInstall(c, ['--qemu-binary', '/nonexistent/qemu']),
    exit: 3,
    code: 'QEMU_NOT_FOUND',
  },
  {
    name: 'install --dry-run --log-dir below a file',
    args: (c) => dryInstall(c, ['--log-dir', '/etc/passwd/logs']),
    exit: 2,
    code: 'BAD_LOG_DIR',
  },
  {
    name: 'install --memory 99999999999999999999',
    args: (c) => dryInstall(c, ['--memory', '99999999999999999999']),
    exit: 2,
    code: 'BAD_MEMORY',
  },
  {
    name: 'install --memory 9007199254740993',
    args: (c) => dryInstall(c, ['--memory', '9007199254740993']),
    exit: 2,
    code: 'BAD_MEMORY',
  },
  {
    name: 'install --memory 1.5',
    args: (c) => dryInstall(c, ['--memory', '1.5']),
    exit: 2,
    code: 'BAD_MEMORY',
  },
  {
    name: 'install --vcpus 100000',
    args: (c) => dryInstall(c, ['--vcpus', '100000']),
    exit: 2,
    code: 'BAD_VCPUS',
  },
  {
    name: 'install --network mac=ff:ff:ff:ff:ff:ff (multicast)',
    args: (c) => dryInstall(c, ['--network', 'user,mac=ff:ff:ff:ff:ff:ff']),
    exit: 2,
    code: 'BAD_NETWORK',
  },
  {
    name: 'install --extra-args with an escape',
    args: (c) => dryInstall(c, ['--extra-args', 'console=ttyS0\u001b[2J']),
    exit: 2,
    code: 'BAD_VALUE',
  },
  {
    name: 'install --name ../../x',
    args: (c) => dryInstall(c, []).map((a) => (a === 'g' ? '../../x' : a)),
    exit: 2,
    code: 'BAD_NAME',
  },
  {
    name: 'install --dry-run --location with credentials, server down: the password is never printed',
    // the fixture install without its --boot pair: the media are the URL's
    args: (c) => [
      ...dryInstall(c, []).filter((a, i, all) => a !== '--boot' && all[i - 1] !== '--boot'),
      '--location',
      `http://user:${SECRET}@127.0.0.1:9/tree/`,
    ],
    exit: 3,
    code: 'MEDIA_FETCH_FAILED',
    mustNotPrint: [SECRET],
  },
  // base publishing
  {
    name: 'install --publish-base --noreboot',
    args: (c) => dryInstall(c, ['--publish-base', '--noreboot']),
    exit: 2,
    code: 'BASE_NOT_CONFIRMED',
  },
  {
    name: 'install --publish-base --print-xml',
    args: (c) => dryInstall(c, ['--publish-base', '--print-xml']),
    exit: 2,
    code: 'BAD_PUBLISH_BASE',
  },
  {
    name: 'install --base-cache without --publish-base',
    args: (c) => dryInstall(c, ['--base-cache', c.scratch]),
    exit: 2,
    code: 'BAD_PUBLISH_BASE',
  },
  {
    name: 'install --publish-base --base-cache under /proc',
    args: (c) => dryInstall(c, ['--publish-base', '--base-cache', '/proc/ig-hostile-cache']),
    exit: 3,
    code: 'BASE_CACHE_INVALID',
  },
  {
    name: 'install --publish-base --base-cache a file',
    args: (c) => dryInstall(c, ['--publish-base', '--base-cache', '/etc/passwd']),
    exit: 3,
    code: 'BASE_CACHE_INVALID',
  },
  {
    name: 'base rm ../x',
    args: (c) => ['--host-root', c.root, 'base', 'rm', '../x'],
    exit: 2,
    code: 'BAD_BASE_KEY',
  },
  {
    name: 'base rm a key the cache does not hold',
    args: (c) => ['base', 'rm', 'a'.repeat(64), '--cache', c.scratch],
    exit: 2,
    code: 'BASE_NOT_FOUND',
  },
  { name: 'base rm with no key', args: () => ['base', 'rm'], exit: 2, code: 'BAD_BASE_KEY' },
  {
    name: 'base list --cache a file',
    args: () => ['base', 'list', '--cache', '/etc/passwd'],
    exit: 3,
    code: 'BASE_CACHE_INVALID',
  },
  {
    name: 'base list: bases is a link out of the cache',
    setup: async (c) => symlink(c.state, path.join(c.scratch, 'bases')),
    args: (c) => ['base', 'list', '--cache', c.scratch],
    exit: 3,
    code: 'BASE_CACHE_INVALID',
  },
  {
    name: 'provision --base KEY whose folder is a link out of the cache',
    setup: async (c) => {
      await mkdir(path.join(c.scratch, 'bases'));
      await symlink(c.state, path.join(c.scratch, 'bases', 'b'.repeat(64)));
    },
    args: (c) => [
      '--host-root',
      c.root,
      'provision',
      '--base',
      'b'.repeat(64),
      '--cache',
      c.scratch,
      '--dry-run',
    ],
    exit: 3,
    code: 'BASE_CACHE_INVALID',
  },
  {
    name: 'provision --base ../../etc',
    args: (c) => ['--host-root', c.root, 'provision', '--base', '../../etc', '--dry-run'],
    exit: 2,
    code: 'BASE_NOT_FOUND',
  },
  {
    name: 'provision --base a FIFO (no hang)',
    setup: async (c) => void (await fifo(c)),
    args: (c) => ['--host-root', c.root, 'provision', '--base', path.join(c.scratch, 'fifo'), '--dry-run'],
    exit: 2,
    code: 'BASE_NOT_FOUND',
  },
  { name: 'base frob (unknown action)', args: () => ['base', 'frob'], exit: 2, code: 'USAGE' },
  // kickstart
  {
    name: 'kickstart lint a FIFO (no hang)',
    setup: async (c) => void (await fifo(c)),
    args: (c) => ['kickstart', 'lint', path.join(c.scratch, 'fifo')],
    exit: 2,
    code: 'NOT_A_REGULAR_FILE',
  },
  {
    name: 'kickstart lint /dev/zero',
    args: () => ['kickstart', 'lint', '/dev/zero'],
    exit: 2,
    code: 'NOT_A_REGULAR_FILE',
  },
  {
    name: 'kickstart lint a directory',
    args: (c) => ['kickstart', 'lint', c.scratch],
    exit: 2,
    code: 'NOT_A_REGULAR_FILE',
  },
  {
    name: 'kickstart render /etc/passwd',
    args: () => ['kickstart', 'render', '/etc/passwd'],
    exit: 2,
    code: 'KICKSTART_TEMPLATE_NOT_HBS',
    mustNotPrint: ['root:'],
  },
  {
    name: 'kickstart lint %include /etc/shadow: findings, no line of it shown',
    setup: (c) => writeFile(path.join(c.scratch, 'inc.ks'), '%include /etc/shadow\n'),
    args: (c) => ['kickstart', 'lint', path.join(c.scratch, 'inc.ks')],
    exit: 2,
    code: '',
    report: true,
    mustNotPrint: ['root:'],
  },
  // batch
  {
    name: 'batch a FIFO manifest (no hang)',
    setup: async (c) => void (await fifo(c)),
    args: (c) => ['--host-root', c.root, 'batch', path.join(c.scratch, 'fifo'), '--dry-run'],
    exit: 2,
    code: 'NOT_A_REGULAR_FILE',
  },
  {
    name: 'batch /dev/zero',
    args: (c) => ['--host-root', c.root, 'batch', '/dev/zero', '--dry-run'],
    exit: 2,
    code: 'NOT_A_REGULAR_FILE',
  },
  {
    name: 'batch a missing manifest',
    args: (c) => ['--host-root', c.root, 'batch', path.join(c.scratch, 'none.yaml'), '--dry-run'],
    exit: 2,
    code: 'MANIFEST_NOT_FOUND',
  },
  {
    name: 'batch --inventory a FIFO (no hang)',
    setup: async (c) => void (await fifo(c)),
    args: (c) => [
      '--host-root',
      c.root,
      'batch',
      FLEET,
      '--dry-run',
      '--inventory',
      path.join(c.scratch, 'fifo'),
    ],
    exit: 2,
    code: 'NOT_A_REGULAR_FILE',
  },
  // media, doctor, wizard, snapshot
  {
    name: 'media inspect /etc/passwd',
    args: () => ['media', 'inspect', '/etc/passwd'],
    exit: 2,
    code: 'MEDIA_NOT_AN_ISO',
    mustNotPrint: ['root:'],
  },
  {
    name: 'media inspect ftp://',
    args: () => ['media', 'inspect', 'ftp://x/y'],
    exit: 2,
    code: 'MEDIA_BAD_URL',
  },
  {
    name: 'media inspect a URL with credentials, server down: the password is never printed',
    args: () => ['media', 'inspect', `http://user:${SECRET}@127.0.0.1:9/tree/`],
    exit: 3,
    code: 'MEDIA_FETCH_FAILED',
    mustNotPrint: [SECRET],
  },
  {
    name: 'doctor --connect bogus',
    args: (c) => ['--host-root', c.root, 'doctor', '--connect', 'bogus'],
    exit: 2,
    code: 'BAD_CONNECT_URI',
  },
  {
    name: 'install --interactive without a terminal (wizard)',
    args: (c) => ['--host-root', c.root, 'install', '--interactive'],
    exit: 2,
    code: 'NOT_A_TERMINAL',
  },
  {
    name: 'hostdev snapshot onto a FIFO',
    setup: async (c) => void (await fifo(c)),
    args: (c) => ['--host-root', c.root, 'hostdev', 'snapshot', path.join(c.scratch, 'fifo')],
    exit: 2,
    code: 'SNAPSHOT_OUT_UNWRITABLE',
  },
];
for (const a of ADDED) CASES.push({ ...a, env: (c) => ({ ...withPath(), ...(a.env?.(c) ?? {}) }) });

/** Every file and link under dir with its content (links not followed): equal hashes mean nothing changed. */
async function hashTree(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string, rel: string): Promise<void> => {
    let ents;
    try {
      ents = (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    } catch {
      h.update(`${rel}:absent`);
      return;
    }
    for (const e of ents) {
      const p = path.join(d, e.name);
      h.update(`${rel}/${e.name}\0`);
      if (e.isSymbolicLink()) h.update(`->${await readlink(p)}`);
      else if (e.isDirectory()) await walk(p, `${rel}/${e.name}`);
      else if (e.isFile()) h.update(await readFile(p));
    }
  };
  await walk(dir, '');
  return h.digest('hex');
}

async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

describe('integration: hostile inputs against the built CLI', function () {
  // ~180 processes, 4 at a time: about 2 minutes on a quiet 2-core machine, far more on a loaded one
  this.timeout(600_000);
  let base: string;
  let template: string;
  let big: string;
  const failures: string[] = [];

  before(function () {
    requireBuiltCli();
    base = mkdtempSync(path.join(os.tmpdir(), 'ig-hostile-'));
    template = path.join(base, 'template');
    buildHostTreeSync(loadProfile('two-nics'), template);
    big = path.join(base, 'big');
    buildHostTreeSync(generateProfile(1500), big);
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it(`has at least 100 cases (${CASES.length})`, () => {
    expect(CASES.length).to.be.at.least(100);
    expect(new Set(CASES.map((c) => c.name)).size, 'case names are unique').to.equal(CASES.length);
  });

  it('every case: its exit code, one error line, no stack trace, host tree and state dir unchanged', async () => {
    const cli = requireBuiltCli();
    let n = 0;
    await pool(CASES, 4, async (k) => {
      const dir = path.join(base, `case-${n++}`);
      const c: Ctx = {
        root: path.join(dir, 'root'),
        state: path.join(dir, 'state'),
        scratch: path.join(dir, 'scratch'),
      };
      cpSync(template, c.root, { recursive: true, verbatimSymlinks: true });
      await mkdir(path.join(c.state, 'journal'), { recursive: true });
      await mkdir(path.join(c.state, 'leases'), { recursive: true });
      await mkdir(c.scratch, { recursive: true });
      await k.setup?.(c);
      const before = [await hashTree(c.root), await hashTree(c.state)];
      const r = await execa('node', [cli, ...k.args(c)], {
        reject: false,
        timeout: 30_000,
        cwd: c.scratch,
        env: { INSTALL_GUEST_CACHE: path.join(c.scratch, 'cache'), ...(k.env?.(c) ?? {}) },
        extendEnv: false,
        stdin: 'ignore',
      });
      const after = [await hashTree(c.root), await hashTree(c.state)];
      const stderr = String(r.stderr);
      const errorLines = stderr.split('\n').filter((l) => l.startsWith('install-guest: '));
      const problems: string[] = [];
      if (r.exitCode !== k.exit) problems.push(`exit ${r.exitCode ?? r.signal}, expected ${k.exit}`);
      if (k.report) {
        if (errorLines.length !== 0) problems.push(`${errorLines.length} error lines in a report`);
      } else if (errorLines.length !== 1) problems.push(`${errorLines.length} error lines`);
      else if (!errorLines[0]!.endsWith(`[${k.code}]`))
        problems.push(`error line ${errorLines[0]!.slice(-60)}, expected [${k.code}]`);
      if (/internal error|\n\s+at /.test(stderr)) problems.push('a stack trace or internal error');
      // eslint-disable-next-line no-control-regex
      if (/[\u001b\u0007\u009b\u202e\u2066\u200b]/.test(stderr + String(r.stdout)))
        problems.push('a raw control/bidi character printed');
      for (const secret of k.mustNotPrint ?? [])
        if ((stderr + String(r.stdout)).includes(secret)) problems.push(`printed ${JSON.stringify(secret)}`);
      if (before[0] !== after[0]) problems.push('the host tree changed');
      if (!k.ownsState && before[1] !== after[1]) problems.push('the state dir changed');
      if (problems.length)
        failures.push(
          `${k.name}: ${problems.join('; ')}\n    ${stderr.trim().split('\n').slice(-3).join('\n    ')}`,
        );
      rmSync(dir, { recursive: true, force: true });
    });
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });

  for (const argv of [['hostdev', 'list'], ['hostdev', 'list', '--json'], ['doctor']]) {
    it(`${argv.join(' ')} | head -c 100: ends quietly on EPIPE (exit 0, no stack trace)`, async () => {
      const p = execa('node', [requireBuiltCli(), '--host-root', big, ...argv], {
        reject: false,
        timeout: 60_000,
        buffer: { stdout: false },
      });
      // the reader goes away after its first chunk, as head does
      await new Promise<void>((resolve) => p.stdout.once('data', () => resolve()));
      p.stdout.destroy();
      const r = await p;
      expect(String(r.stderr)).to.not.match(/internal error|EPIPE|\n\s+at /);
      expect(r.exitCode, String(r.stderr)).to.be.oneOf([0, 3]);
    });
  }
});
