/**
 * The in-guest confirmation unit (CONTRACTS §1): the shipped POSIX sh script, the snippet that
 * installs it (kickstart %post, preseed late_command), and the parser for the lines it prints on
 * the serial console at every boot.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { kickstartsDir } from '../paths.js';

export const CONFIRM_SCRIPT_PATH = '/usr/local/sbin/install-guest-confirm';
export const CONFIRM_MARKER = 'IG-CONFIRM';

export interface ConfirmPci {
  /** `0000:00:03.0` */
  addr: string;
  /** `8086:10d3`, lowercase */
  vendorDevice: string;
  /** `8086:0000`, lowercase */
  subsystem: string;
  /** `0x020000` */
  class: string;
  /** the bound driver, or null for `driver=none` */
  driver: string | null;
}

export interface ConfirmNet {
  name: string;
  mac: string;
  /** /sys/class/net/X/operstate: up, down, unknown, … */
  state: string;
  /** the PCI device behind the interface, or null for virtual ones (`pci=none`) */
  pci: string | null;
}

/** A TPM the guest's kernel registered (/sys/class/tpm/NAME). */
export interface ConfirmTpm {
  name: string;
  /** tpm_version_major: `2` for a TPM 2.0 */
  version: string;
}

export interface ConfirmReport {
  /** boot id (or uptime seconds) from the begin line */
  boot: string;
  pci: ConfirmPci[];
  net: ConfirmNet[];
  /** TPMs (an older confirmation unit prints none and announces no count) */
  tpm: ConfirmTpm[];
  /** the counts the end line announced */
  announced: { pci: number; net: number; tpm?: number };
  /** false when lines were lost (announced counts differ from the lines seen), e.g. serial noise */
  complete: boolean;
  /** how many complete begin…end blocks the text held; the report is the last one */
  blocks: number;
}

function fields(rest: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tok of rest.trim().split(/\s+/)) {
    const eq = tok.indexOf('=');
    if (eq > 0) out[tok.slice(0, eq)] = tok.slice(eq + 1);
  }
  return out;
}

interface Block {
  boot: string;
  pci: ConfirmPci[];
  net: ConfirmNet[];
  tpm: ConfirmTpm[];
}

/**
 * Parses IG-CONFIRM lines out of a serial log (other output, carriage returns and prefixes before
 * the marker are tolerated). Returns the last block whose counts match its end line (complete),
 * else the last begin…end block, or null when no block ended.
 * Identical repeated lines inside a block (the same text written to two consoles that are one port)
 * are kept once.
 */
export function parseConfirmLines(text: string): ConfirmReport | null {
  let current: Block | null = null;
  let last: ConfirmReport | null = null;
  // a complete block is never replaced by a later one that lost lines
  let lastComplete: ConfirmReport | null = null;
  let blocks = 0;
  for (const raw of text.split(/\r?\n|\r/)) {
    const at = raw.indexOf(`${CONFIRM_MARKER} `);
    if (at < 0) continue;
    const body = raw.slice(at + CONFIRM_MARKER.length + 1).trim();
    const sp = body.indexOf(' ');
    const kind = sp < 0 ? body : body.slice(0, sp);
    const f = fields(sp < 0 ? '' : body.slice(sp + 1));
    switch (kind) {
      case 'begin':
        current = { boot: f.boot ?? 'unknown', pci: [], net: [], tpm: [] };
        break;
      case 'pci': {
        if (!current || !f.addr || !f.id) break;
        const entry: ConfirmPci = {
          addr: f.addr.toLowerCase(),
          vendorDevice: f.id.toLowerCase(),
          subsystem: (f.subsys ?? '0000:0000').toLowerCase(),
          class: f.class ?? '',
          driver: !f.driver || f.driver === 'none' ? null : f.driver,
        };
        if (!current.pci.some((p) => p.addr === entry.addr)) current.pci.push(entry);
        break;
      }
      case 'net': {
        if (!current || !f.name) break;
        const entry: ConfirmNet = {
          name: f.name,
          mac: (f.mac ?? '').toLowerCase(),
          state: f.state ?? 'unknown',
          pci: !f.pci || f.pci === 'none' ? null : f.pci.toLowerCase(),
        };
        if (!current.net.some((n) => n.name === entry.name)) current.net.push(entry);
        break;
      }
      case 'tpm': {
        if (!current || !f.name) break;
        const entry: ConfirmTpm = { name: f.name, version: f.version ?? 'unknown' };
        if (!current.tpm.some((t) => t.name === entry.name)) current.tpm.push(entry);
        break;
      }
      case 'end': {
        if (!current) break;
        const announced = {
          pci: Number(f.pci ?? NaN),
          net: Number(f.net ?? NaN),
          ...(f.tpm !== undefined ? { tpm: Number(f.tpm) } : {}),
        };
        blocks += 1;
        const block = {
          boot: current.boot,
          pci: current.pci,
          net: current.net,
          tpm: current.tpm,
          announced,
          complete:
            announced.pci === current.pci.length &&
            announced.net === current.net.length &&
            (announced.tpm === undefined ? current.tpm.length === 0 : announced.tpm === current.tpm.length),
          blocks,
        };
        last = block;
        if (block.complete) lastComplete = block;
        current = null;
        break;
      }
      default:
        break;
    }
  }
  return lastComplete ? { ...lastComplete, blocks } : last;
}

function normId(v: string): string {
  return v
    .toLowerCase()
    .split(':')
    .map((x) => x.replace(/^0x/, '').padStart(4, '0'))
    .join(':');
}

/**
 * The PCI entry whose vendor:device (and subsystem, when given) match; the first one when several
 * do. Ids compare case-insensitively, with or without 0x.
 */
export function findDevice(
  report: ConfirmReport,
  want: { vendorDevice: string; subsystem?: string },
): ConfirmPci | undefined {
  const vd = normId(want.vendorDevice);
  const ss = want.subsystem === undefined ? undefined : normId(want.subsystem);
  return report.pci.find((p) => p.vendorDevice === vd && (ss === undefined || p.subsystem === ss));
}

/** The network interfaces backed by the given PCI address. */
export function interfacesOf(report: ConfirmReport, addr: string): ConfirmNet[] {
  const a = addr.toLowerCase();
  return report.net.filter((n) => n.pci === a);
}

let scriptCache: string | undefined;
/** The confirmation script as shipped (kickstarts/partials/confirm-unit.sh). */
export function confirmScript(): string {
  scriptCache ??= readFileSync(path.join(kickstartsDir(), 'partials', 'confirm-unit.sh'), 'utf8');
  return scriptCache;
}
