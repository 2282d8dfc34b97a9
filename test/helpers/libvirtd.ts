/**
 * A real libvirtd for the tests that use `--connect qemu:///system`: .ci/start-libvirtd starts
 * virtlogd and libvirtd when qemu:///system does not answer (idempotent; root only; it creates the
 * directories, qemu.conf and the default pool a host without systemd lacks). Called once per run.
 */
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SYSTEM_URI = 'qemu:///system';
const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.ci/start-libvirtd');

let started: Promise<void> | undefined;

/** Starts libvirtd (and virtlogd) if qemu:///system does not answer; throws with the script's output otherwise. */
export function ensureLibvirtd(): Promise<void> {
  started ??= (async () => {
    const r = await execa('bash', [script], { reject: false, timeout: 120_000, all: true });
    if (r.exitCode !== 0) {
      started = undefined;
      throw new Error(`libvirtd could not be started (.ci/start-libvirtd exit ${r.exitCode}): ${r.all}`);
    }
  })();
  return started;
}

/** `virsh -c qemu:///system ARGS…`; stdout, or throws with virsh's error. */
export async function virsh(...args: string[]): Promise<string> {
  const r = await execa('virsh', ['-q', '-c', SYSTEM_URI, ...args], { reject: false });
  if (r.exitCode !== 0) throw new Error(`virsh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The names of the volumes in a pool of the local libvirtd. */
export async function volumeNames(pool: string): Promise<string[]> {
  return (await virsh('vol-list', pool))
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0]!)
    .filter(Boolean);
}

/** Whether a domain of that name is defined or running. */
export async function domainExists(name: string): Promise<boolean> {
  const r = await execa('virsh', ['-q', '-c', SYSTEM_URI, 'dominfo', name], { reject: false });
  return r.exitCode === 0;
}

/** Removes a domain left by a failed test: destroy if running, undefine (with its NVRAM). Never throws. */
export async function removeDomain(name: string): Promise<void> {
  await execa('virsh', ['-q', '-c', SYSTEM_URI, 'destroy', name], { reject: false });
  await execa('virsh', ['-q', '-c', SYSTEM_URI, 'undefine', name, '--nvram'], { reject: false });
}

/**
 * A transient libvirt network for a test: `<forward mode='bridge'/>` over a bridge the test makes
 * (no firewall rules, no dnsmasq, nothing leaves the machine). Returns its removal. Needs root.
 */
export async function createBridgeNetwork(name: string, bridge: string): Promise<() => Promise<void>> {
  const remove = async (): Promise<void> => {
    await execa('virsh', ['-q', '-c', SYSTEM_URI, 'net-destroy', name], { reject: false });
    await execa('ip', ['link', 'del', bridge], { reject: false });
  };
  await remove();
  await execa('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await execa('ip', ['link', 'set', bridge, 'up']);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ig-net-'));
  try {
    const file = path.join(dir, 'net.xml');
    await writeFile(
      file,
      `<network><name>${name}</name><forward mode='bridge'/><bridge name='${bridge}'/></network>\n`,
    );
    await execa('virsh', ['-q', '-c', SYSTEM_URI, 'net-create', file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return remove;
}

/**
 * This machine's libvirtd as a REMOTE host: a TCP listener on 127.0.0.1 (an ephemeral port) that
 * forwards each connection to libvirtd's unix socket, so `qemu+tcp://127.0.0.1:PORT/system` is a URI
 * with a host, which install-guest treats as remote (no local facts, no shared files), while
 * libvirtd's configuration stays as it is. Loopback only; closed by `close()`.
 */
export async function remoteView(
  socket = '/var/run/libvirt/libvirt-sock',
): Promise<{ uri: string; close: () => Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const daemon = net.connect(socket);
    open.add(client).add(daemon);
    client.pipe(daemon).pipe(client);
    const end = (): void => {
      client.destroy();
      daemon.destroy();
      open.delete(client);
      open.delete(daemon);
    };
    client.on('error', end).on('close', end);
    daemon.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    uri: `qemu+tcp://127.0.0.1:${port}/system`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
