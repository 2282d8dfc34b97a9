/**
 * The NoCloud seed's three documents for one guest:
 *  - user-data: install-guest's part (the confirmation unit by write_files + a systemd unit started
 *    from runcmd; the credentials the sub-options asked for) merged with the user's own
 *    (`user-data=`): list keys (write_files, runcmd, bootcmd, packages) are joined, ours first; for
 *    any other key both set, the user's wins and a warning names it. The merged document is checked
 *    against a schema of the keys install-guest writes before anything boots.
 *  - meta-data: a fresh instance-id per run (iid-<uuid>: each provision overlay of a base is a new
 *    instance, so cloud-init runs again) and the hostname; the user's keys win (with a warning).
 *  - network-config: version 2, the assigned NIC matched by its MAC (read on the host before the
 *    device was detached) with DHCP; the user's file replaces it (with a warning).
 * Pure apart from reading the files the sub-options name.
 */
import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parseDocument, stringify } from 'yaml';
import { randomInt } from 'node:crypto';
import { inputError } from '../errors.js';
import { CONFIRM_SCRIPT_PATH } from '../kickstart/confirm.js';
import type { CloudInitOptions } from './options.js';

export const CONFIRM_SERVICE = 'install-guest-confirm.service';
export const CLOUD_INIT_DISABLED_FILE = '/etc/cloud/cloud-init.disabled';

export type Doc = Record<string, unknown>;

export interface SeedInputs {
  options: CloudInitOptions;
  /** unique per run */
  instanceId: string;
  hostname: string;
  /** the MAC install-guest configures (the assigned NIC's, else the emulated NIC's) */
  nicMac?: string;
  /** the confirmation script (kickstarts/partials/confirm-unit.sh); omitted: no confirm unit */
  confirmScript?: string;
}

export interface SeedDocuments {
  userData: string;
  /** user-data with passwords replaced (for the log dir) */
  userDataRedacted: string;
  metaData: string;
  /** absent when there is no NIC to configure and the user gave none */
  networkConfig?: string;
  warnings: string[];
  /** the generated root password (printed once by the caller; never logged) */
  generatedPassword?: string;
}

const LIST_KEYS = new Set(['write_files', 'runcmd', 'bootcmd', 'packages']);

/** The systemd unit that runs the confirmation script at every boot, once the network is up. */
export function confirmServiceUnit(): string {
  return [
    '[Unit]',
    'Description=install-guest: list PCI devices and interfaces on the serial console',
    'Wants=network-online.target',
    'After=network-online.target cloud-final.service',
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${CONFIRM_SCRIPT_PATH} --console`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

async function readInput(what: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw inputError(
      'BAD_CLOUD_INIT',
      `--cloud-init ${what}=${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? String(e)})`}`,
      { hint: `give the path of a readable file to ${what}=` },
    );
  }
}

/** The first non-empty line of a key or password file. */
async function firstLine(what: string, file: string): Promise<string> {
  const line = (await readInput(what, file)).split(/\r?\n/).find((l) => l.trim() !== '');
  if (line === undefined)
    throw inputError('BAD_CLOUD_INIT', `--cloud-init ${what}=${file} is empty`, {
      hint: what.includes('password')
        ? 'put the password on the first line'
        : 'give an ssh public key file (*.pub)',
    });
  return line.trim();
}

async function sshKey(what: string, file: string): Promise<string> {
  const key = await firstLine(what, file);
  if (/PRIVATE KEY/.test(key))
    throw inputError('BAD_CLOUD_INIT', `--cloud-init ${what}=${file} is a private key`, {
      hint: 'give the public key (the .pub file beside it)',
    });
  if (!/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/=]+/.test(key))
    throw inputError('BAD_CLOUD_INIT', `--cloud-init ${what}=${file} is not an ssh public key`, {
      hint: 'a line like `ssh-ed25519 AAAA… user@host` (ssh-keygen writes it to ~/.ssh/id_ed25519.pub)',
    });
  return key;
}

/** 20 characters from an alphabet without look-alikes (≈115 bits). */
export function generatePassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  let out = '';
  for (let i = 0; i < 20; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** install-guest's own part of the user-data. */
export async function ownUserData(
  inputs: SeedInputs,
): Promise<{ doc: Doc; password?: string; secrets: string[] }> {
  const o = inputs.options;
  const doc: Doc = {};
  const secrets: string[] = [];
  let password: string | undefined;
  if (o.rootPasswordGenerate) password = generatePassword();
  else if (o.rootPasswordFile) password = await firstLine('root-password-file', o.rootPasswordFile);
  if (password !== undefined) {
    secrets.push(password);
    doc.chpasswd = {
      expire: o.rootPasswordGenerate,
      users: [{ name: 'root', password, type: 'text' }],
    };
    doc.ssh_pwauth = false;
  }
  const users: unknown[] = [];
  if (o.clouduserSshKey) {
    users.push('default');
    doc.ssh_authorized_keys = [await sshKey('clouduser-ssh-key', o.clouduserSshKey)];
  }
  if (o.rootSshKey) {
    users.push({ name: 'root', ssh_authorized_keys: [await sshKey('root-ssh-key', o.rootSshKey)] });
    doc.disable_root = false;
  }
  if (users.length) doc.users = users;
  if (inputs.confirmScript !== undefined) {
    doc.write_files = [
      { path: CONFIRM_SCRIPT_PATH, permissions: '0755', owner: 'root:root', content: inputs.confirmScript },
      {
        path: `/etc/systemd/system/${CONFIRM_SERVICE}`,
        permissions: '0644',
        owner: 'root:root',
        content: confirmServiceUnit(),
      },
    ];
    doc.runcmd = [
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', CONFIRM_SERVICE],
      // runcmd runs inside cloud-final.service, which the unit is ordered after: do not wait for it
      ['systemctl', 'start', '--no-block', CONFIRM_SERVICE],
    ];
  }
  if (o.disable) {
    doc.runcmd = [...((doc.runcmd as unknown[] | undefined) ?? []), ['touch', CLOUD_INIT_DISABLED_FILE]];
  }
  return { doc, ...(password !== undefined ? { password } : {}), secrets };
}

/**
 * Merges the user's cloud-config into ours: list keys joined (ours first), any other key both set
 * taken from the user's, with a warning naming it.
 */
export function mergeUserData(ours: Doc, theirs: Doc, source: string): { doc: Doc; warnings: string[] } {
  const doc: Doc = { ...ours };
  const warnings: string[] = [];
  for (const [k, v] of Object.entries(theirs)) {
    if (!(k in ours)) {
      doc[k] = v;
    } else if (LIST_KEYS.has(k) && Array.isArray(ours[k]) && Array.isArray(v)) {
      doc[k] = [...(ours[k] as unknown[]), ...v];
    } else {
      doc[k] = v;
      warnings.push(`--cloud-init user-data=${source}: its '${k}' replaces install-guest's`);
    }
  }
  return { doc, warnings };
}

/**
 * Parses a user-data file as cloud-config: `#cloud-config` on the first line, YAML, a mapping.
 * Throws BAD_USER_DATA (exit 2) naming the file and the line.
 */
export function parseCloudConfig(text: string, source: string): Doc {
  const first = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/, 1)[0]!
    .trim();
  if (first !== '#cloud-config') {
    const what = first.startsWith('#!')
      ? 'a script'
      : first.startsWith('Content-Type:') || first.startsWith('MIME-Version:')
        ? 'a MIME multipart document'
        : first.startsWith('#include')
          ? 'an #include list'
          : 'not cloud-config';
    throw inputError(
      'BAD_USER_DATA',
      `--cloud-init user-data=${source} is ${what}: its first line is not #cloud-config`,
      {
        hint: 'install-guest merges its own part into the user-data, so it must be a #cloud-config YAML document',
      },
    );
  }
  const parsed = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (parsed.errors.length > 0) {
    const e = parsed.errors[0]!;
    // without prettyErrors the position is an offset: its line is counted here
    const line = e.linePos?.[0]?.line ?? text.slice(0, e.pos[0]).split('\n').length;
    throw inputError(
      'BAD_USER_DATA',
      `--cloud-init user-data=${source}${line !== undefined ? `:${line}` : ''}: not valid YAML: ${e.message.split('\n')[0]}`,
      { hint: 'fix the YAML (indentation, quoting) and try again' },
    );
  }
  const doc: unknown = parsed.toJS();
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw inputError(
      'BAD_USER_DATA',
      `--cloud-init user-data=${source}: the document is not a mapping of keys`,
      {
        hint: 'cloud-config is a YAML mapping: `key: value` lines under #cloud-config',
      },
    );
  return doc as Doc;
}

/** The JSON schema (2020-12) of the cloud-config keys install-guest writes or relies on. */
export const CLOUD_CONFIG_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    write_files: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path'],
        properties: {
          path: { type: 'string', minLength: 1 },
          content: { type: 'string' },
          source: { type: 'object' },
          owner: { type: 'string' },
          permissions: { type: 'string', pattern: '^0?[0-7]{3,4}$' },
          encoding: {
            enum: [
              'b64',
              'base64',
              'gz',
              'gzip',
              'gz+base64',
              'gzip+base64',
              'gz+b64',
              'gzip+b64',
              'text/plain',
            ],
          },
          append: { type: 'boolean' },
          defer: { type: 'boolean' },
        },
        additionalProperties: false,
      },
    },
    runcmd: {
      type: 'array',
      items: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }, { type: 'null' }] },
    },
    bootcmd: {
      type: 'array',
      items: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    },
    packages: {
      type: 'array',
      items: {
        anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }, { type: 'object' }],
      },
    },
    users: {
      anyOf: [
        { type: 'string' },
        {
          type: 'array',
          items: {
            anyOf: [
              { type: 'string' },
              {
                type: 'object',
                required: ['name'],
                properties: {
                  name: { type: 'string', minLength: 1 },
                  ssh_authorized_keys: { type: 'array', items: { type: 'string' } },
                  'ssh-authorized-keys': { type: 'array', items: { type: 'string' } },
                  lock_passwd: { type: 'boolean' },
                  sudo: {
                    anyOf: [{ type: 'string' }, { type: 'array' }, { type: 'boolean' }, { type: 'null' }],
                  },
                  groups: { anyOf: [{ type: 'string' }, { type: 'array' }] },
                  shell: { type: 'string' },
                },
              },
            ],
          },
        },
      ],
    },
    chpasswd: {
      type: 'object',
      properties: {
        expire: { type: 'boolean' },
        list: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        users: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string', minLength: 1 },
              password: { type: 'string' },
              type: { enum: ['text', 'hash', 'RANDOM'] },
            },
            additionalProperties: false,
          },
        },
      },
      additionalProperties: false,
    },
    ssh_authorized_keys: { type: 'array', items: { type: 'string' } },
    ssh_pwauth: { anyOf: [{ type: 'boolean' }, { enum: ['unchanged'] }] },
    disable_root: { type: 'boolean' },
    hostname: { type: 'string' },
    fqdn: { type: 'string' },
    final_message: { type: 'string' },
  },
} as const;

type Validator = ((data: unknown) => boolean) & {
  errors?: { instancePath: string; message?: string; params: Record<string, unknown> }[] | null;
};
let validator: Validator | undefined;

/** Checks a cloud-config against CLOUD_CONFIG_SCHEMA; the errors as `PATH: MESSAGE` (path like /write_files/0/path). */
export function schemaErrors(doc: Doc): string[] {
  if (!validator) {
    validator = new Ajv2020({ allErrors: true, strict: false }).compile(CLOUD_CONFIG_SCHEMA) as Validator;
  }
  if (validator(doc)) return [];
  return (validator.errors ?? [])
    .filter((e) => !(e.message ?? '').startsWith('must match a schema in anyOf'))
    .map((e) => {
      const extra =
        typeof e.params.additionalProperty === 'string' ? ` '${e.params.additionalProperty}'` : '';
      return `${e.instancePath || '/'}: ${e.message ?? 'invalid'}${extra}`;
    });
}

/** Reads a YAML mapping file (meta-data, network-config); throws BAD_CLOUD_INIT naming it. */
async function yamlMapping(what: string, file: string): Promise<{ text: string; doc: Doc }> {
  const text = await readInput(what, file);
  const parsed = parseDocument(text, { prettyErrors: false });
  const doc: unknown = parsed.errors.length ? undefined : parsed.toJS();
  if (parsed.errors.length || (doc !== null && (typeof doc !== 'object' || Array.isArray(doc))))
    throw inputError(
      'BAD_CLOUD_INIT',
      `--cloud-init ${what}=${file} is not a YAML mapping${parsed.errors.length ? `: ${parsed.errors[0]!.message.split('\n')[0]}` : ''}`,
      {
        hint: `see cloud-init's NoCloud ${what} format`,
      },
    );
  return { text, doc: (doc ?? {}) as Doc };
}

/** network-config v2 for the NIC with this MAC: matched by MAC, DHCPv4. */
export function nicNetworkConfig(mac: string): Doc {
  return {
    version: 2,
    ethernets: {
      'ig-nic0': { match: { macaddress: mac.toLowerCase() }, dhcp4: true },
    },
  };
}

/** The three documents of the seed (see the module comment). Throws input errors (exit 2). */
export async function buildSeedDocuments(inputs: SeedInputs): Promise<SeedDocuments> {
  const o = inputs.options;
  const warnings: string[] = [];
  const own = await ownUserData(inputs);
  let doc = own.doc;
  if (o.userData) {
    const theirs = parseCloudConfig(await readInput('user-data', o.userData), o.userData);
    const merged = mergeUserData(own.doc, theirs, o.userData);
    doc = merged.doc;
    warnings.push(...merged.warnings);
  }
  const errors = schemaErrors(doc);
  if (errors.length)
    throw inputError(
      'BAD_USER_DATA',
      `--cloud-init${o.userData ? ` user-data=${o.userData}` : ''}: the merged cloud-config is not valid: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
      { hint: 'fix that key in your user-data' },
    );
  const body = stringify(doc, { lineWidth: 0 });
  const userData = `#cloud-config\n${body}`;
  let userDataRedacted = userData;
  for (const s of own.secrets) userDataRedacted = userDataRedacted.split(s).join('[REDACTED]');

  let meta: Doc = { 'instance-id': inputs.instanceId, 'local-hostname': inputs.hostname };
  if (o.metaData) {
    const theirs = (await yamlMapping('meta-data', o.metaData)).doc;
    if ('instance-id' in theirs)
      warnings.push(
        `--cloud-init meta-data=${o.metaData}: its instance-id replaces the fresh one; a disk that already ran with it will not run cloud-init's per-instance modules again`,
      );
    meta = { ...meta, ...theirs };
  }
  let networkConfig: string | undefined;
  if (o.networkConfig) {
    networkConfig = (await yamlMapping('network-config', o.networkConfig)).text;
    if (inputs.nicMac)
      warnings.push(
        `--cloud-init network-config=${o.networkConfig} replaces install-guest's, which configured the NIC ${inputs.nicMac} by its MAC`,
      );
  } else if (inputs.nicMac) {
    networkConfig = stringify(nicNetworkConfig(inputs.nicMac));
  }
  return {
    userData,
    userDataRedacted,
    metaData: stringify(meta),
    ...(networkConfig !== undefined ? { networkConfig } : {}),
    warnings,
    ...(own.password !== undefined && o.rootPasswordGenerate ? { generatedPassword: own.password } : {}),
  };
}
