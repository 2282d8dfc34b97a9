/**
 * The Debian kernel of the test bed: resolved from the `linux-image-amd64` metapackage (never a
 * hard-coded ABI), fetched with `apt-get download`, unpacked with `dpkg -x` (never installed),
 * with modules.dep made by busybox depmod and the ELF vmlinux extracted from the bzImage (the
 * kernel is built with PVH, so qemu's -kernel boots the ELF directly, skipping ~3 s of XZ).
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { run } from './util.js';

export interface KernelPackage {
  /** e.g. linux-image-6.1.0-56-amd64 */
  name: string;
  /** the Debian package version, e.g. 6.1.192-2 */
  version: string;
  /** the kernel release (uname -r), e.g. 6.1.0-56-amd64 */
  release: string;
}

/**
 * Parses `apt-cache show linux-image-amd64` (or `apt-cache depends`) output: the
 * linux-image-<abi>-<flavour> package it depends on, and the version pinned there when shown.
 */
export function parseMetaDepends(
  text: string,
  flavour = 'amd64',
): { name: string; version: string | null } | null {
  const re = new RegExp(
    `^\\s*Depends:\\s*(linux-image-[0-9][^\\s,]*-${flavour})(?:\\s*\\(=\\s*([^)\\s]+)\\))?`,
    'm',
  );
  const m = re.exec(text);
  return m ? { name: m[1]!, version: m[2] ?? null } : null;
}

async function aptCache(args: string[]): Promise<string> {
  const r = await execa('apt-cache', args, { reject: false, encoding: 'utf8' });
  return r.exitCode === 0 ? r.stdout : '';
}

/**
 * Resolves the current kernel package named by the metapackage (one apt-cache call, ~1 s); runs
 * `apt-get update` once if the package lists are missing (root only).
 */
export async function resolveKernelPackage(flavour = 'amd64'): Promise<KernelPackage> {
  const meta = `linux-image-${flavour}`;
  const query = async () => parseMetaDepends(await aptCache(['show', '--no-all-versions', meta]), flavour);
  let dep = await query();
  if (dep === null && process.getuid?.() === 0) {
    await run('apt-get', ['update', '-qq']);
    dep = await query();
  }
  if (dep === null) {
    throw new Error(
      `testbed: cannot resolve the kernel package from \`apt-cache show ${meta}\`; run \`apt-get update\` (as root) and retry`,
    );
  }
  let version = dep.version;
  if (version === null) {
    const show = await aptCache(['show', '--no-all-versions', dep.name]);
    version = /^Version:\s*(\S+)/m.exec(show)?.[1] ?? 'unknown';
  }
  return { name: dep.name, version, release: dep.name.replace(/^linux-image-/, '') };
}

/** Downloads a Debian package into `dir` (`apt-get download`) and returns the .deb path. */
export async function aptDownload(pkg: string, dir: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const base = pkg.split('=')[0]!;
  const existing = (await fs.readdir(dir)).filter((f) => f.startsWith(`${base}_`) && f.endsWith('.deb'));
  for (const f of existing) await fs.rm(path.join(dir, f));
  await run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', pkg], { cwd: dir });
  const found = (await fs.readdir(dir)).filter((f) => f.startsWith(`${base}_`) && f.endsWith('.deb'));
  if (found.length !== 1)
    throw new Error(`testbed: apt-get download ${pkg} left ${found.length} files in ${dir}`);
  return path.join(dir, found[0]!);
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/**
 * Decompresses the first XZ stream of `input`, ignoring what follows it: with xz(1) when installed
 * (xz-utils is only priority "standard"), else with python3's lzma module.
 */
async function xzDecompressFirstStream(input: Uint8Array): Promise<Uint8Array> {
  const opts = { input, encoding: 'buffer', reject: false, maxBuffer: 512 * 1024 * 1024 } as const;
  const xz = await execa('xz', ['-dc', '--single-stream'], opts);
  if (xz.exitCode === 0) return xz.stdout;
  const py = await execa(
    'python3',
    [
      '-c',
      'import lzma,sys; sys.stdout.buffer.write(lzma.LZMADecompressor().decompress(sys.stdin.buffer.read()))',
    ],
    opts,
  );
  return py.stdout;
}

/** Extracts the ELF vmlinux from an XZ-compressed bzImage (the extract-vmlinux method). */
export async function extractVmlinux(bzImage: string, outFile: string): Promise<void> {
  const data = await fs.readFile(bzImage);
  let at = data.indexOf(XZ_MAGIC);
  while (at >= 0) {
    const out = await xzDecompressFirstStream(data.subarray(at));
    if (out.length > 4 && out[0] === 0x7f && out[1] === 0x45 && out[2] === 0x4c && out[3] === 0x46) {
      await fs.writeFile(outFile, out);
      return;
    }
    at = data.indexOf(XZ_MAGIC, at + 1);
  }
  throw new Error(`testbed: no XZ-compressed ELF found in ${bzImage}`);
}

/** The kernel's module dependency graph, from modules.dep (paths relative to lib/modules/<release>). */
export class ModuleIndex {
  private readonly byName = new Map<string, string>();
  private readonly deps = new Map<string, string[]>();
  private readonly builtin = new Set<string>();

  constructor(
    readonly dir: string,
    depText: string,
    builtinText: string,
  ) {
    for (const line of depText.split('\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const file = line.slice(0, colon).trim();
      const deps = line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter((d) => d !== '');
      this.byName.set(ModuleIndex.nameOf(file), file);
      this.deps.set(file, deps);
    }
    for (const line of builtinText.split('\n')) {
      if (line.trim() !== '') this.builtin.add(ModuleIndex.nameOf(line.trim()));
    }
  }

  static nameOf(file: string): string {
    return path
      .basename(file)
      .replace(/\.ko(\.[a-z]+)?$/, '')
      .replace(/-/g, '_');
  }

  static async load(modulesDir: string): Promise<ModuleIndex> {
    const dep = await fs.readFile(path.join(modulesDir, 'modules.dep'), 'utf8');
    const builtinFile = path.join(modulesDir, 'modules.builtin');
    const builtin = existsSync(builtinFile) ? await fs.readFile(builtinFile, 'utf8') : '';
    return new ModuleIndex(modulesDir, dep, builtin);
  }

  isBuiltin(name: string): boolean {
    return this.builtin.has(name.replace(/-/g, '_'));
  }

  /**
   * The module files to insmod, in load order (dependencies first), for the named modules.
   * Built-in modules are skipped; an unknown name throws.
   */
  closure(names: readonly string[]): string[] {
    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const d of this.deps.get(file) ?? []) visit(d);
      order.push(file);
    };
    for (const raw of names) {
      const name = raw.replace(/-/g, '_');
      if (this.isBuiltin(name)) continue;
      const file = this.byName.get(name);
      if (file === undefined) throw new Error(`testbed: kernel module ${raw} not found in ${this.dir}`);
      visit(file);
    }
    return order;
  }
}

/** Unpacks a kernel .deb into `root` and writes modules.dep there (busybox depmod: the host may lack kmod). */
export async function unpackKernel(deb: string, root: string, release: string): Promise<void> {
  await run('dpkg', ['-x', deb, root]);
  await run('busybox', ['depmod', '-b', root, release]);
  const modulesDir = path.join(root, 'lib', 'modules', release);
  if (!existsSync(path.join(modulesDir, 'modules.dep'))) {
    throw new Error(`testbed: depmod did not write ${modulesDir}/modules.dep`);
  }
}
