/** Parsers for /proc/self/mountinfo, /proc/mounts and /proc/swaps (pure): the one mount parser. */

export interface MountEntry {
  /** `major:minor` of the mounted device (`0:20` for pseudo file systems) */
  majorMinor: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Undoes the octal escapes mountinfo uses for spaces, tabs, newlines and backslashes. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    const sep = f.indexOf('-');
    if (f.length < 7 || sep < 6) continue;
    out.push({
      majorMinor: f[2]!,
      mountPoint: unescapeMount(f[4]!),
      fsType: f[sep + 1] ?? '',
      source: unescapeMount(f[sep + 2] ?? ''),
    });
  }
  return out;
}

/** Device paths in use as swap (`/dev/sda2`). */
export function parseSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((s) => s.startsWith('/'));
}

export interface ProcMount {
  source: string;
  mountPoint: string;
  fsType: string;
}

/** /proc/mounts (and /etc/mtab): `source mountpoint fstype options dump pass`, with mountinfo's escapes. */
export function parseProcMounts(text: string): ProcMount[] {
  const out: ProcMount[] = [];
  for (const line of text.split('\n')) {
    const [src, target, fsType] = line.trim().split(/\s+/);
    if (!src || !target) continue;
    out.push({ source: unescapeMount(src), mountPoint: unescapeMount(target), fsType: fsType ?? '' });
  }
  return out;
}
