/**
 * virt-install's option grammar: `value` or `key=value,key=value`, where a bare first item is the
 * option's main value (`--disk /path.qcow2,size=4` ≡ `--disk path=/path.qcow2,size=4`). A literal
 * comma inside a value is written `,,` (as on qemu's command line).
 */
import { inputError } from '../errors.js';

export interface SubOptions {
  /** the bare first item, if any */
  main?: string;
  values: Map<string, string>;
  /** bare words the option takes anywhere (`--boot uefi`, `--boot hd,cdrom`) */
  bare: string[];
}

export function splitCommaList(text: string): string[] {
  const items: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === ',') {
      if (text[i + 1] === ',') {
        cur += ',';
        i++;
        continue;
      }
      items.push(cur);
      cur = '';
    } else cur += ch;
  }
  items.push(cur);
  return items;
}

/** Rejects values no qemu argument may carry. */
export function assertPlainValue(option: string, value: string): void {
  if (/[\n\r\0]/.test(value)) {
    throw inputError('BAD_VALUE', `${option} value contains a newline or NUL character`, {
      hint: 'option values must be one line of text',
    });
  }
}

export function parseSubOptions(
  option: string,
  text: string,
  allowed: readonly string[],
  mainKey?: string,
  bareWords: readonly string[] = [],
): SubOptions {
  assertPlainValue(option, text);
  const out: SubOptions = { values: new Map(), bare: [] };
  const items = splitCommaList(text);
  items.forEach((item, index) => {
    if (item === '') {
      throw inputError('BAD_VALUE', `${option} '${text}' has an empty item`, {
        hint: `write ${option} ${allowed.map((k) => `${k}=…`).join(',')}`,
      });
    }
    const eq = item.indexOf('=');
    if (eq < 0) {
      if (index === 0 && mainKey) {
        out.main = item;
        return;
      }
      if (bareWords.includes(item)) {
        out.bare.push(item);
        return;
      }
      throw inputError('BAD_VALUE', `${option} '${text}': '${item}' is not key=value`, {
        hint: `known keys: ${allowed.join(', ')}`,
      });
    }
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (!allowed.includes(key)) {
      throw inputError('UNKNOWN_SUBOPTION', `${option} '${text}': unknown key '${key}'`, {
        hint: `known keys: ${allowed.join(', ')}`,
      });
    }
    if (out.values.has(key))
      throw inputError('BAD_VALUE', `${option} '${text}': '${key}' given twice`, {
        hint: 'give each key once',
      });
    out.values.set(key, value);
  });
  if (mainKey && out.main !== undefined) {
    if (out.values.has(mainKey))
      throw inputError('BAD_VALUE', `${option} '${text}': ${mainKey} given twice`, {
        hint: `give ${mainKey} once`,
      });
    out.values.set(mainKey, out.main);
  }
  return out;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };

/**
 * A memory size in MiB: a plain number is MiB (virt-install's --memory), or a number with a unit
 * K/M/G/T, optionally followed by `i`/`iB`/`B` (`2G`, `512MiB`, `1.5g`).
 */
export function parseMiB(option: string, text: string, defaultUnit: 'm' | 'g' = 'm'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) {
    throw inputError('BAD_SIZE', `${option} '${text}' is not a size`, {
      hint: `use a number${defaultUnit === 'm' ? ' of MiB (2048)' : ' of GiB (4)'} or a unit: 512M, 2G`,
    });
  }
  const unit = (m[2] ?? '').toLowerCase();
  const mib = Number(m[1]) * (unit === '' ? SIZE_UNITS[defaultUnit]! : SIZE_UNITS[unit]!);
  if (!(mib > 0) || !Number.isFinite(mib))
    throw inputError('BAD_SIZE', `${option} '${text}' must be greater than zero`, { hint: 'use e.g. 2G' });
  return Math.ceil(mib);
}

export function parsePositiveInt(option: string, text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) {
    throw inputError('BAD_NUMBER', `${option} '${text}' is not a positive whole number`, {
      hint: `e.g. ${option} 2`,
    });
  }
  return Number(text);
}

export function parseOnOff(option: string, key: string, text: string): boolean {
  const v = text.toLowerCase();
  if (['on', 'yes', 'true', '1'].includes(v)) return true;
  if (['off', 'no', 'false', '0'].includes(v)) return false;
  throw inputError('BAD_VALUE', `${option} ${key}='${text}' is not on or off`, {
    hint: `${key}=on or ${key}=off`,
  });
}
