/**
 * The stub drivers' kernel modules: a driver not registered yet is loaded with `modprobe` (only on
 * the real root), and a module that will not load is explained by the modprobe.d line that
 * blacklists it.
 */
import { hostError } from '../errors.js';
import type { Host } from '../host/host.js';
import { MODULE_OF, type StubDriver, drvPath, waitForPath } from './binding.js';

export interface ModuleOptions {
  /** may `modprobe` be run? Default: only on the real root (never for a fixture tree or a snapshot) */
  allowModprobe?: boolean;
}

/** Lines in modprobe.d that stop a module from loading or from being loaded by alias. */
export async function findBlacklist(host: Host, module: string): Promise<string[]> {
  const names = new Set([module, module.replace(/_/g, '-')]);
  const hits: string[] = [];
  for (const dir of [
    '/etc/modprobe.d',
    '/run/modprobe.d',
    '/usr/local/lib/modprobe.d',
    '/usr/lib/modprobe.d',
    '/lib/modprobe.d',
  ]) {
    for (const f of await host.list(dir)) {
      if (!f.endsWith('.conf')) continue;
      const text = await host.readTrimmed(`${dir}/${f}`);
      if (!text) continue;
      text.split('\n').forEach((line, i) => {
        const w = line.trim().split(/\s+/);
        if ((w[0] === 'blacklist' || w[0] === 'install') && w[1] && names.has(w[1])) {
          if (w[0] === 'install' && !/\/(false|true)$/.test(w[2] ?? '')) return;
          hits.push(`${dir}/${f}:${i + 1}: ${line.trim()}`);
        }
      });
    }
  }
  return hits;
}

/**
 * Makes sure the stub driver is registered (/sys/bus/pci/drivers/<driver>). When it is not, runs
 * `modprobe <driver>` (only where allowed); a blacklisted module gets a clear error naming the line.
 */
export async function ensureDriverLoaded(
  host: Host,
  driver: StubDriver,
  options: ModuleOptions = {},
): Promise<'present' | 'loaded'> {
  if (await host.exists(drvPath(driver))) return 'present';
  const module = MODULE_OF[driver];
  const allow = options.allowModprobe ?? host.isRealRoot;
  if (!allow) {
    throw hostError(
      'DRIVER_NOT_LOADED',
      `driver ${driver} is not loaded on this host (${host.root}) and modules are not loaded here`,
      {
        hint: `load it first: modprobe ${driver}`,
      },
    );
  }
  let r = await host.exec('modprobe', [driver], { timeoutMs: 30_000 });
  if (r.notFound) r = await host.exec('/sbin/modprobe', [driver], { timeoutMs: 30_000 });
  if (r.notFound) {
    throw hostError('MODPROBE_MISSING', `cannot load ${driver}: modprobe is not installed`, {
      hint: 'install kmod, or load the module by other means',
    });
  }
  if (r.exitCode !== 0 || !(await waitForPath(host, drvPath(driver)))) {
    const blacklist = await findBlacklist(host, module);
    const stderr = r.stderr.trim().split('\n').filter(Boolean).pop() ?? '';
    if (blacklist.length > 0 || /blacklist/i.test(r.stderr)) {
      throw hostError(
        'MODULE_BLACKLISTED',
        `module ${module} (driver ${driver}) is blacklisted: ${blacklist.length ? blacklist.join('; ') : stderr}`,
        {
          hint: `remove that line (or choose --driver ${driver === 'vfio-pci' ? 'pci-stub' : 'vfio-pci'}), then try again`,
          data: { lines: blacklist },
        },
      );
    }
    throw hostError(
      'MODULE_LOAD_FAILED',
      `modprobe ${driver} failed (exit ${r.exitCode})${stderr ? `: ${stderr}` : ''}`,
      { hint: `check that the running kernel has ${module} (lsmod, dmesg)` },
    );
  }
  return 'loaded';
}
