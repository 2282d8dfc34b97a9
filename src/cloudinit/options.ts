/**
 * `--cloud-init` (virt-install's grammar, virtinst/cli.py ParserCloudInit): sub-options parsed into
 * a plain object, paths resolved against the working directory. Pure; files are read later
 * (cloudinit/userdata.ts), when the request is known to be an import.
 *
 * Differences from virt-install, on purpose:
 *  - `disable=on` stands alone: cloud-init applies only install-guest's own part (the NIC by its MAC,
 *    the confirmation unit) and is then disabled for later boots. With credentials or files as well
 *    it is ambiguous (did the user mean "no cloud-init"?), so that is an input error.
 *  - no sub-options: the invoking user's ssh public key for root when one exists
 *    (~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub), else a generated root password, printed
 *    once (virt-install always generates a password and disables cloud-init).
 *  - `seed=iso|smbios`: how the seed reaches the guest. `iso` (default): a NoCloud volume labelled
 *    cidata on a cdrom; `smbios`: `-smbios type=1,serial=ds=nocloud;s=http://10.0.2.2:PORT/`, the
 *    seed served over HTTP on the host's loopback (user networking only).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inputError } from '../errors.js';
import { parseSubOptions } from '../request/suboptions.js';

export const CLOUD_INIT_KEYS = [
  'root-password-generate',
  'root-password-file',
  'root-ssh-key',
  'ssh-key',
  'clouduser-ssh-key',
  'user-data',
  'meta-data',
  'network-config',
  'disable',
  'seed',
] as const;

export interface CloudInitOptions {
  rootPasswordGenerate: boolean;
  rootPasswordFile?: string;
  rootSshKey?: string;
  clouduserSshKey?: string;
  userData?: string;
  metaData?: string;
  networkConfig?: string;
  disable: boolean;
  seed: 'iso' | 'smbios';
  /** the sub-options were empty: the defaults above were chosen (said in a warning) */
  defaulted: boolean;
}

const ON = new Set(['on', 'yes', 'true', '1']);
const OFF = new Set(['off', 'no', 'false', '0']);

function onOff(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (ON.has(v)) return true;
  if (OFF.has(v)) return false;
  throw inputError('BAD_CLOUD_INIT', `--cloud-init ${key}='${value}' is not on or off`, {
    hint: `write ${key}=on or ${key}=off`,
  });
}

/** The invoking user's ssh public key file, if one exists (ed25519, then ecdsa, then rsa). */
export function defaultSshKey(home: string | undefined): string | undefined {
  if (!home) return undefined;
  for (const f of ['id_ed25519.pub', 'id_ecdsa.pub', 'id_rsa.pub']) {
    const p = path.join(home, '.ssh', f);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export interface ParseCloudInitContext {
  cwd: string;
  /** the invoking user's home (default: os.homedir()) */
  home?: string;
}

/**
 * Parses the `--cloud-init` value ('' for a bare `--cloud-init`). Throws BAD_CLOUD_INIT (exit 2)
 * for an unknown key, a bad on/off, or `disable=on` with other sub-options.
 */
export function parseCloudInit(text: string, ctx: ParseCloudInitContext): CloudInitOptions {
  const home = ctx.home ?? os.homedir();
  if (text.trim() === '') {
    const key = defaultSshKey(home);
    return {
      rootPasswordGenerate: key === undefined,
      ...(key ? { rootSshKey: key } : {}),
      disable: false,
      seed: 'iso',
      defaulted: true,
    };
  }
  const o = parseSubOptions('--cloud-init', text, CLOUD_INIT_KEYS);
  const v = o.values;
  if (v.has('ssh-key') && v.has('root-ssh-key'))
    throw inputError(
      'BAD_CLOUD_INIT',
      '--cloud-init: ssh-key and root-ssh-key are the same sub-option, given twice',
      {
        hint: 'give root-ssh-key= once',
      },
    );
  const file = (key: string): string | undefined => {
    const val = v.get(key);
    if (val === undefined) return undefined;
    if (val === '')
      throw inputError('BAD_CLOUD_INIT', `--cloud-init ${key}= names no file`, { hint: `write ${key}=PATH` });
    return path.resolve(ctx.cwd, val);
  };
  const seed = v.get('seed') ?? 'iso';
  if (seed !== 'iso' && seed !== 'smbios')
    throw inputError('BAD_CLOUD_INIT', `--cloud-init seed='${seed}' is not iso or smbios`, {
      hint: 'seed=iso attaches a cidata volume; seed=smbios passes ds=nocloud in the SMBIOS serial',
    });
  const disable = v.has('disable') ? onOff('disable', v.get('disable')!) : false;
  const rootSshKey = file('root-ssh-key') ?? file('ssh-key');
  const out: CloudInitOptions = {
    rootPasswordGenerate: v.has('root-password-generate')
      ? onOff('root-password-generate', v.get('root-password-generate')!)
      : false,
    ...(file('root-password-file') ? { rootPasswordFile: file('root-password-file')! } : {}),
    ...(rootSshKey ? { rootSshKey } : {}),
    ...(file('clouduser-ssh-key') ? { clouduserSshKey: file('clouduser-ssh-key')! } : {}),
    ...(file('user-data') ? { userData: file('user-data')! } : {}),
    ...(file('meta-data') ? { metaData: file('meta-data')! } : {}),
    ...(file('network-config') ? { networkConfig: file('network-config')! } : {}),
    disable,
    seed,
    defaulted: false,
  };
  if (disable) {
    const others = [...v.keys()].filter((k) => k !== 'disable' && k !== 'seed');
    if (others.length > 0)
      throw inputError(
        'BAD_CLOUD_INIT',
        `--cloud-init disable=on stands alone, but ${others.join(', ')} ${others.length > 1 ? 'were' : 'was'} given too`,
        {
          hint: "disable=on applies only install-guest's part and then turns cloud-init off; to do both, add a runcmd to your user-data",
        },
      );
  }
  if (out.rootPasswordGenerate && out.rootPasswordFile)
    throw inputError(
      'BAD_CLOUD_INIT',
      '--cloud-init: root-password-generate=on and root-password-file= both set the root password',
      { hint: 'give one of them' },
    );
  return out;
}
