/**
 * Architecture names: trees spell them their own way (Debian `amd64`, `arm64`, `ppc64el`; Fedora
 * `x86_64`, `aarch64`); install-guest uses the kernel's spelling everywhere and maps at the edges.
 */
import { inputError } from '../errors.js';
import type { Arch } from './types.js';

const ALIASES: Record<string, Arch> = {
  x86_64: 'x86_64',
  amd64: 'x86_64',
  x64: 'x86_64',
  i386: 'i686',
  i486: 'i686',
  i586: 'i686',
  i686: 'i686',
  ia32: 'i686',
  x86: 'i686',
  aarch64: 'aarch64',
  arm64: 'aarch64',
  armhf: 'armv7l',
  armv7l: 'armv7l',
  armv7hl: 'armv7l',
  arm: 'armv7l',
  ppc64le: 'ppc64le',
  ppc64el: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

const DEBIAN: Record<Arch, string> = {
  x86_64: 'amd64',
  i686: 'i386',
  aarch64: 'arm64',
  armv7l: 'armhf',
  ppc64le: 'ppc64el',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** Every architecture, in the order a detector tries them when the request names none. */
export const ALL_ARCHES: readonly Arch[] = [
  'x86_64',
  'aarch64',
  'i686',
  'ppc64le',
  's390x',
  'armv7l',
  'riscv64',
];

/** The kernel's spelling of any known alias, or null. */
export function normalizeArch(name: string): Arch | null {
  return ALIASES[name.trim().toLowerCase()] ?? null;
}

/** Like normalizeArch, but an unknown name is a usage error. */
export function parseArch(name: string): Arch {
  const a = normalizeArch(name);
  if (!a) {
    throw inputError(
      'BAD_ARCH',
      `--arch ${JSON.stringify(name)} is not an architecture install-guest knows`,
      {
        hint: `use one of ${Object.keys(ALIASES).join(', ')}`,
      },
    );
  }
  return a;
}

/** Debian's and Ubuntu's name for an architecture (`x86_64` → `amd64`). */
export function debianArch(a: Arch): string {
  return DEBIAN[a];
}

/** The architecture of the machine install-guest runs on (Node's `process.arch` spelling mapped). */
export function hostArch(nodeArch: string = process.arch): Arch {
  return normalizeArch(nodeArch) ?? 'x86_64';
}
