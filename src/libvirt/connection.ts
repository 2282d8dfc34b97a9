/**
 * A libvirt connection, spoken to through `virsh -c URI` (libvirt-clients): execa with argv arrays,
 * never a shell. virsh is libvirt's own client, carries every transport libvirt has (qemu:///system,
 * qemu+ssh://, qemu+tcp://, qemu+tls://) with libvirt's own authentication, and is on every host that
 * has libvirt; the Node bindings for libvirt are unmaintained and need a native build.
 */
import { execa } from 'execa';
import { hostError, inputError, InstallGuestError } from '../errors.js';

/** `--connect` wins over LIBVIRT_DEFAULT_URI; undefined: run qemu directly (no libvirt). */
export function resolveConnectUri(
  arg: unknown,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const given = typeof arg === 'string' && arg !== '' ? arg : env.LIBVIRT_DEFAULT_URI || undefined;
  if (given === undefined) return undefined;
  if (!/^[a-z][a-z0-9]*(\+[a-z0-9]+)?:\/\/[^\s]*$/i.test(given)) {
    throw inputError('BAD_CONNECT_URI', `--connect '${redactUri(given)}' is not a libvirt URI`, {
      hint: 'e.g. --connect qemu:///system, qemu+ssh://root@host/system, qemu+tcp://10.0.0.2/system',
    });
  }
  return given;
}

/** The URI with any password replaced (libvirt URIs rarely carry one; never print it if they do). */
export function redactUri(uri: string): string {
  return uri.replace(/^([^:]+:\/\/[^/@:]*):[^/@]*@/, '$1:***@');
}

/** A URI without a host (qemu:///system, qemu:///session) talks to the libvirtd of this machine. */
export function isLocalUri(uri: string): boolean {
  return /^[a-z0-9+]+:\/\/\//i.test(uri);
}

export interface VirshOptions {
  input?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class LibvirtConnection {
  readonly uri: string;
  readonly local: boolean;
  readonly virshBinary: string;

  constructor(uri: string, virshBinary = 'virsh') {
    this.uri = uri;
    this.local = isLocalUri(uri);
    this.virshBinary = virshBinary;
  }

  /** The argv prefix every call uses (`-q -c URI`). */
  argv(args: readonly string[]): string[] {
    return ['-q', '-c', this.uri, ...args];
  }

  /** Runs one virsh command and returns its stdout; a failure names the command and libvirt's error. */
  async virsh(args: readonly string[], opts: VirshOptions = {}): Promise<string> {
    const r = await execa(this.virshBinary, this.argv(args), {
      reject: false,
      stripFinalNewline: false,
      timeout: opts.timeoutMs ?? 60_000,
      ...(opts.signal ? { cancelSignal: opts.signal } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
      env: { LC_ALL: 'C' },
    });
    if (r.exitCode === 0 && !r.failed) return r.stdout;
    const code = (r as { code?: string }).code;
    if (code === 'ENOENT') {
      throw hostError('VIRSH_NOT_FOUND', `'${this.virshBinary}' is not installed (needed for --connect)`, {
        hint: 'install libvirt-clients (apt-get install libvirt-clients)',
      });
    }
    const err = libvirtError(r.stderr);
    throw hostError(
      'LIBVIRT_COMMAND_FAILED',
      `virsh ${args[0] ?? ''} on ${redactUri(this.uri)} failed: ${r.timedOut ? 'timed out' : err || `exit ${r.exitCode}`}`,
      {
        hint: 'check the libvirt connection with `virsh -c URI list --all`',
        data: { uri: redactUri(this.uri), command: args[0], stderr: r.stderr.slice(-2000) },
      },
    );
  }

  /**
   * Checks the connection answers (exit 3 LIBVIRT_UNREACHABLE when it does not) and returns the
   * hypervisor's name and version, e.g. `QEMU 7.2.0`.
   */
  async check(signal?: AbortSignal): Promise<string> {
    try {
      const out = await this.virsh(['version'], { timeoutMs: 30_000, ...(signal ? { signal } : {}) });
      const m = /Running hypervisor:\s*(.+)/.exec(out);
      return m?.[1]?.trim() ?? 'unknown hypervisor';
    } catch (e) {
      if (e instanceof InstallGuestError && e.code === 'LIBVIRT_COMMAND_FAILED') {
        throw hostError(
          'LIBVIRT_UNREACHABLE',
          `cannot reach libvirt at ${redactUri(this.uri)}: ${e.message.replace(/^.*? failed: /, '')}`,
          {
            hint: this.local
              ? 'start libvirtd (and virtlogd) on this host, or run as a user allowed to use qemu:///system'
              : 'check the host is up, libvirtd listens on that transport, and your credentials (ssh key, SASL)',
            cause: e,
            data: { uri: redactUri(this.uri) },
          },
        );
      }
      throw e;
    }
  }
}

/** libvirt's own error line(s) from virsh's stderr, without the `error: ` prefixes. */
export function libvirtError(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => l.replace(/^error:\s*/, ''));
  return (
    lines.filter((l) => !/^failed to connect to the hypervisor$/i.test(l)).join('; ') || lines.join('; ')
  );
}
