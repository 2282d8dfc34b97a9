/**
 * Template variables for kickstarts and preseeds: their JSON Schema (2020-12), their defaults and
 * their validation with ajv. Variables are validated BEFORE rendering because Handlebars' strict
 * mode does not see a value that only a helper reads (`{{#if missing}}` renders nothing).
 *
 * Every value that lands in the answer file is constrained by a pattern without newlines or quotes,
 * so a variable cannot smuggle extra kickstart commands into the rendered text. Passwords are never
 * written as given: they are hashed (SHA-512-crypt) by render.ts.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { inputError } from '../errors.js';

export interface NicVar {
  /** the assigned NIC's MAC address, as the guest will see it */
  mac: string;
  /** its interface name in the installer, when known (e.g. `enp1s0`) */
  name?: string;
}

export type NetworkVar =
  | { bootproto: 'dhcp' }
  | { bootproto: 'static'; ip: string; netmask: string; gateway: string; nameserver?: string | string[] };

export interface UserVar {
  name: string;
  password?: string;
  passwordHash?: string;
  passwordFile?: string;
  groups?: string[];
  gecos?: string;
}

export interface KickstartVars {
  nic?: NicVar;
  network: NetworkVar;
  hostname: string;
  /** the target disk, a kernel name without /dev/ (`vda`, `sda`, `nvme0n1`) */
  disk: string;
  rootPassword?: string;
  rootPasswordHash?: string;
  rootPasswordFile?: string;
  user?: UserVar;
  /** packages, @groups or @^environments added to the minimal set */
  packages: string[];
  timezone: string;
  lang: string;
  keyboard: string;
  poweroff: 'shutdown' | 'poweroff' | 'reboot';
  /** install the in-guest confirmation unit (CONTRACTS §1) */
  confirmUnit: boolean;
  /** `autopart` (plain partitions, no home, no swap) or explicit `part` lines */
  partitioning: 'autopart' | 'part';
  /** kernel arguments of the installed system (its serial console above all) */
  kernelArgs: string;
  /** Fedora/RHEL: install source (`url --url=`); omitted when the boot media names it */
  installUrl?: string;
  /** Debian: the archive mirror */
  mirror: { host: string; directory: string };
}

export const DEFAULT_VARS: Readonly<KickstartVars> = Object.freeze({
  network: { bootproto: 'dhcp' },
  hostname: 'ig-guest',
  disk: 'vda',
  packages: [],
  timezone: 'UTC',
  lang: 'en_US.UTF-8',
  keyboard: 'us',
  poweroff: 'poweroff',
  confirmUnit: true,
  partitioning: 'autopart',
  kernelArgs: 'console=ttyS0,115200n8',
  mirror: { host: 'deb.debian.org', directory: '/debian' },
} satisfies KickstartVars);

const MAC = '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$';
const IPV4 =
  '^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$';
const HOSTNAME =
  '^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$';
const CRYPT = '^\\$(1|5|6|y|gy|2[abxy]|7)\\$[^\\s:]+$';
const SECRET = { type: 'string', minLength: 1, maxLength: 4096 } as const;
const PATH = { type: 'string', minLength: 1, pattern: '^[^\\n\\r\\0]+$' } as const;

export const VARS_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://install-guest.invalid/schemas/kickstart-vars.json',
  title: 'install-guest kickstart/preseed template variables',
  type: 'object',
  additionalProperties: false,
  required: [
    'network',
    'hostname',
    'disk',
    'packages',
    'timezone',
    'lang',
    'keyboard',
    'poweroff',
    'confirmUnit',
    'partitioning',
    'kernelArgs',
    'mirror',
  ],
  properties: {
    nic: {
      type: 'object',
      additionalProperties: false,
      required: ['mac'],
      properties: {
        mac: { type: 'string', pattern: MAC },
        name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,15}$' },
      },
    },
    network: {
      type: 'object',
      additionalProperties: false,
      required: ['bootproto'],
      properties: {
        bootproto: { enum: ['dhcp', 'static'] },
        ip: { type: 'string', pattern: IPV4 },
        netmask: { type: 'string', pattern: IPV4 },
        gateway: { type: 'string', pattern: IPV4 },
        nameserver: {
          anyOf: [
            { type: 'string', pattern: IPV4 },
            { type: 'array', items: { type: 'string', pattern: IPV4 }, minItems: 1 },
          ],
        },
      },
      if: { properties: { bootproto: { const: 'static' } } },
      then: { required: ['ip', 'netmask', 'gateway'] },
      else: { not: { anyOf: [{ required: ['ip'] }, { required: ['netmask'] }, { required: ['gateway'] }] } },
    },
    hostname: { type: 'string', pattern: HOSTNAME },
    disk: { type: 'string', pattern: '^[a-z][a-z0-9]{0,31}$' },
    rootPassword: SECRET,
    rootPasswordHash: { type: 'string', pattern: CRYPT },
    rootPasswordFile: PATH,
    user: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[a-z_][a-z0-9_-]{0,31}$', not: { const: 'root' } },
        password: SECRET,
        passwordHash: { type: 'string', pattern: CRYPT },
        passwordFile: PATH,
        groups: { type: 'array', items: { type: 'string', pattern: '^[a-z_][a-z0-9_-]{0,31}$' } },
        gecos: { type: 'string', pattern: '^[^\\n\\r":,]*$' },
      },
    },
    packages: {
      type: 'array',
      items: { type: 'string', pattern: '^-?@?\\^?[A-Za-z0-9_][A-Za-z0-9_.+:-]*$' },
    },
    timezone: { type: 'string', pattern: '^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$' },
    lang: { type: 'string', pattern: '^[A-Za-z]{2,3}(_[A-Za-z]{2})?(\\.[A-Za-z0-9-]+)?(@[A-Za-z]+)?$' },
    keyboard: { type: 'string', pattern: '^[A-Za-z0-9_-]+(\\([A-Za-z0-9_-]+\\))?$' },
    poweroff: { enum: ['shutdown', 'poweroff', 'reboot'] },
    confirmUnit: { type: 'boolean' },
    partitioning: { enum: ['autopart', 'part'] },
    kernelArgs: { type: 'string', pattern: '^[^\\n\\r"\']*$' },
    installUrl: { type: 'string', pattern: '^(https?|ftp|nfs)://[^\\s"\']+$' },
    mirror: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'directory'],
      properties: {
        host: { type: 'string', pattern: '^[A-Za-z0-9.-]+(:[0-9]{1,5})?$' },
        directory: { type: 'string', pattern: '^/[^\\s"\']*$' },
      },
    },
  },
} as const;

let validator: ValidateFunction | undefined;
function getValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
    validator = ajv.compile(VARS_SCHEMA);
  }
  return validator;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Defaults under the given values; nested objects that have defaults (mirror) merge one level deep. */
export function withDefaults(vars: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...structuredClone(DEFAULT_VARS) };
  for (const [k, v] of Object.entries(vars)) {
    const d = out[k];
    out[k] = isPlainObject(d) && isPlainObject(v) && k === 'mirror' ? { ...d, ...v } : v;
  }
  return out;
}

const SECRET_KEYS = new Set(['rootPassword', 'password']);

function dotted(instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

/** One sentence per ajv error, naming the variable with a dotted path and never echoing a secret. */
export function describeVarError(e: ErrorObject): string {
  const at = dotted(e.instancePath);
  const name = at || '(root)';
  const p = e.params as Record<string, unknown>;
  const last = at.split('.').pop() ?? '';
  const shown = SECRET_KEYS.has(last) ? '<redacted>' : JSON.stringify(e.data);
  switch (e.keyword) {
    case 'additionalProperties': {
      const unknown = String(p.additionalProperty);
      return `unknown variable \`${at ? `${at}.` : ''}${unknown}\``;
    }
    case 'required':
      return `variable \`${at ? `${at}.` : ''}${String(p.missingProperty)}\` is required`;
    case 'pattern':
      return `variable \`${name}\` has an invalid value ${shown}`;
    case 'enum':
      return `variable \`${name}\` must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}; found ${shown}`;
    case 'type':
      return `variable \`${name}\` must be ${String(p.type)}; found ${shown}`;
    case 'not':
      return name === 'user.name'
        ? 'variable `user.name` must not be root (set rootPassword… for root)'
        : `variable \`${name}\`: ip, netmask and gateway apply only to bootproto static`;
    default:
      return `variable \`${name}\` ${e.message ?? 'is invalid'}`;
  }
}

/**
 * Applies defaults and validates. Throws inputError KICKSTART_VARS naming every bad variable
 * (unknown ones first). Also refuses more than one source for the same password.
 */
export function validateVars(vars: Record<string, unknown>, templateName: string): KickstartVars {
  if (!isPlainObject(vars)) {
    throw inputError('KICKSTART_VARS', `kickstart variables for ${templateName} must be an object`, {
      hint: 'pass a JSON object (--vars FILE) or --set key=value',
    });
  }
  const merged = withDefaults(vars);
  const validate = getValidator();
  if (!validate(merged)) {
    const errors = (validate.errors ?? []).filter(
      // the if/then/else wrapper error repeats what its inner errors say
      (e) => e.keyword !== 'if',
    );
    // unknown variables first: they are the most likely typo
    errors.sort(
      (a, b) => Number(b.keyword === 'additionalProperties') - Number(a.keyword === 'additionalProperties'),
    );
    const lines = [...new Set(errors.map(describeVarError))];
    const unknown = errors
      .filter((e) => e.keyword === 'additionalProperties')
      .map((e) => {
        const at = dotted(e.instancePath);
        return `${at ? `${at}.` : ''}${String((e.params as Record<string, unknown>).additionalProperty)}`;
      });
    throw inputError(
      unknown.length ? 'KICKSTART_UNKNOWN_VARIABLE' : 'KICKSTART_VARS',
      `template ${templateName}: ${lines.join('; ')}`,
      {
        hint: unknown.length
          ? `known variables: ${Object.keys(VARS_SCHEMA.properties).join(', ')}`
          : 'see README "Kickstarts" for the variables and their form',
        data: { template: templateName, problems: lines, ...(unknown.length ? { unknown } : {}) },
      },
    );
  }
  const v = merged as unknown as KickstartVars;
  const rootSources = (['rootPassword', 'rootPasswordHash', 'rootPasswordFile'] as const).filter(
    (k) => v[k] !== undefined,
  );
  if (rootSources.length > 1) {
    throw inputError(
      'KICKSTART_VARS',
      `template ${templateName}: give one of rootPassword, rootPasswordHash, rootPasswordFile; found ${rootSources.join(' and ')}`,
      { hint: 'remove all but one' },
    );
  }
  if (v.user) {
    const userSources = (['password', 'passwordHash', 'passwordFile'] as const).filter(
      (k) => v.user![k] !== undefined,
    );
    if (userSources.length !== 1) {
      throw inputError(
        'KICKSTART_VARS',
        `template ${templateName}: user ${v.user.name} needs exactly one of user.password, user.passwordHash, user.passwordFile; found ${userSources.length ? userSources.join(' and ') : 'none'}`,
        { hint: 'a user without a password cannot log in; give one source' },
      );
    }
  }
  return v;
}

/** Sets `a.b.c` in `target` to `value` (objects created on the way). */
export function setDotted(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  if (parts.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
    throw inputError('KICKSTART_SET', `--set ${key}: invalid key`, {
      hint: 'use dotted names like network.ip',
    });
  }
  let cur = target;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (!isPlainObject(next)) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** Parses one `--set` value: JSON for true/false/null/arrays/objects/quoted strings, else the raw text. */
export function parseSetValue(raw: string): unknown {
  const t = raw.trim();
  if (/^(true|false|null)$/.test(t) || /^[[{"]/.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      throw inputError(
        'KICKSTART_SET',
        `--set value ${JSON.stringify(raw)} looks like JSON but does not parse`,
        {
          hint: 'quote it for the shell, e.g. --set \'packages=["vim","curl"]\'',
        },
      );
    }
  }
  return raw;
}

const SECRET_SET_KEYS = new Set(['rootPassword', 'user.password']);

/**
 * Applies `key=value` items (dotted keys, JSON-looking values parsed) to `vars`. Plain passwords are
 * refused: argv is visible to every process on the host.
 */
export function applySetItems(vars: Record<string, unknown>, items: readonly string[], option: string): void {
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw inputError('KICKSTART_SET', `${option} ${JSON.stringify(item)}: expected key=value`, {
        hint: `e.g. ${option} network.bootproto=static ${option} network.ip=10.0.0.5`,
      });
    }
    const key = item.slice(0, eq);
    if (SECRET_SET_KEYS.has(key)) {
      throw inputError(
        'KICKSTART_SECRET_ON_ARGV',
        `${option} ${key}=…: a plain password on the command line is visible to every process on the host`,
        {
          hint: `use ${option} ${key === 'rootPassword' ? 'rootPasswordFile' : 'user.passwordFile'}=PATH or a --vars file`,
        },
      );
    }
    setDotted(vars, key, parseSetValue(item.slice(eq + 1)));
  }
}
