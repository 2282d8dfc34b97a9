/**
 * The QMP client against a scripted server on a real unix socket (the part of qemu the client
 * talks to): the greeting and capabilities handshake, replies and events split across writes and
 * several messages in one write, an error reply, and qemu going away in the middle of a command.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isInstallGuestError } from '../../../src/errors.js';
import { QmpCommandError, connectQmp, type QmpClient } from '../../../src/qemu/qmp/client.js';
import { queryStatus } from '../../../src/qemu/qmp/commands.js';

const GREETING = {
  QMP: { version: { qemu: { major: 8, minor: 2, micro: 0 }, package: '' }, capabilities: ['oob'] },
};

/** A QMP server that answers each command line with what `script` says (written in the given pieces). */
function scriptedServer(
  socketPath: string,
  script: (cmd: { execute: string; id?: string }, sock: net.Socket) => void,
): Promise<{ server: net.Server; received: string[] }> {
  const received: string[] = [];
  const server = net.createServer((sock) => {
    sock.setEncoding('utf8');
    // the greeting in two pieces: the client must wait for the newline
    const g = `${JSON.stringify(GREETING)}\r\n`;
    sock.write(g.slice(0, 20));
    setTimeout(() => sock.write(g.slice(20)), 10);
    let buf = '';
    sock.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const cmd = JSON.parse(line) as { execute: string; id?: string };
        received.push(cmd.execute);
        if (cmd.execute === 'qmp_capabilities') sock.write(`${JSON.stringify({ return: {}, id: cmd.id })}\r\n`);
        else script(cmd, sock);
      }
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(socketPath, () => resolve({ server, received })));
}

describe('QMP client over a scripted socket', () => {
  let dir: string;
  let server: net.Server | undefined;
  let client: QmpClient | undefined;
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'ig-qmp-'))));
  afterEach(async () => {
    await client?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = client = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a greeting split across writes, negotiates, and matches a reply split across writes', async () => {
    const sock = path.join(dir, 'qmp.sock');
    const s = await scriptedServer(sock, (cmd, c) => {
      const event = JSON.stringify({
        event: 'RESUME',
        data: {},
        timestamp: { seconds: 1, microseconds: 2 },
      });
      const reply = JSON.stringify({ return: { status: 'running', running: true }, id: cmd.id });
      // an event and the first half of the reply in one write, the rest later
      c.write(`${event}\r\n${reply.slice(0, 15)}`);
      setTimeout(() => c.write(`${reply.slice(15)}\r\n`), 10);
    });
    server = s.server;
    client = await connectQmp({ path: sock, timeoutMs: 5000 });
    expect(client.greeting.QMP.version.qemu.major).to.equal(8);
    const status = await queryStatus(client);
    expect(status).to.deep.include({ status: 'running', running: true });
    expect(s.received).to.deep.equal(['qmp_capabilities', 'query-status']);
    expect(client.history.map((e) => e.event)).to.deep.equal(['RESUME']);
  });

  it("turns qemu's error reply into QmpCommandError with qemu's class", async () => {
    const sock = path.join(dir, 'qmp.sock');
    server = (
      await scriptedServer(sock, (cmd, c) =>
        c.write(`${JSON.stringify({ error: { class: 'CommandNotFound', desc: 'no such command' }, id: cmd.id })}\n`),
      )
    ).server;
    client = await connectQmp({ path: sock, timeoutMs: 5000 });
    const err = await client.execute('no-such-command').then(
      () => expect.fail('resolved'),
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(QmpCommandError);
    expect((err as QmpCommandError).qmpClass).to.equal('CommandNotFound');
  });

  it('rejects a command in flight with QMP_DISCONNECTED when qemu goes away mid-command', async () => {
    const sock = path.join(dir, 'qmp.sock');
    server = (
      await scriptedServer(sock, (_cmd, c) => {
        // half a reply, then the connection ends
        c.write('{"return": {"sta');
        setTimeout(() => c.destroy(), 10);
      })
    ).server;
    client = await connectQmp({ path: sock, timeoutMs: 5000 });
    const err = await client.execute('query-status', undefined, { timeoutMs: 5000 }).then(
      () => expect.fail('resolved'),
      (e: unknown) => e,
    );
    expect(isInstallGuestError(err) && err.code).to.equal('QMP_DISCONNECTED');
    await client.closed;
    expect(client.isOpen).to.equal(false);
    const after = await client.execute('query-status').then(
      () => expect.fail('resolved'),
      (e: unknown) => e,
    );
    expect(isInstallGuestError(after) && after.code).to.equal('QMP_DISCONNECTED');
  });

  it('says qemu went away before its greeting', async () => {
    const sock = path.join(dir, 'qmp.sock');
    server = net.createServer((c) => c.destroy());
    await new Promise<void>((r) => server!.listen(sock, () => r()));
    const err = await connectQmp({ path: sock, timeoutMs: 5000 }).then(
      () => expect.fail('connected'),
      (e: unknown) => e,
    );
    expect(isInstallGuestError(err) && err.code).to.equal('QMP_DISCONNECTED');
    expect((err as Error).message).to.include('before sending its greeting');
  });
});
