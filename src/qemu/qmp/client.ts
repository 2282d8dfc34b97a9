/**
 * A small QMP client over node:net (the npm ones are stale). It connects to qemu's QMP unix socket
 * (retrying until a deadline, since qemu creates the socket only after it starts), reads the
 * greeting, negotiates `qmp_capabilities`, then runs commands with ids matched to replies and hands
 * out asynchronous events. Every message in and out is appended, with timestamps, to a JSON-lines
 * transcript for the install's log folder.
 *
 * Transcript line shape (one per message): `{"t":"<ISO time>","ms":<ms since connect>,"dir":"in"|"out"|"note","msg":{…}}`.
 * `note` lines record connection facts (connected, closed, unparsable input) with `msg: {note: "…"}`.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import net from 'node:net';
import { InstallGuestError, hostError, timeoutError } from '../../errors.js';

export interface QmpGreeting {
  QMP: {
    version: { qemu: { major: number; minor: number; micro: number }; package: string };
    capabilities: string[];
  };
}

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** A command qemu refused: carries qemu's error class (`GenericError`, `CommandNotFound`, …) and text. */
export class QmpCommandError extends InstallGuestError {
  readonly qmpClass: string;
  readonly desc: string;
  readonly command: string;

  constructor(command: string, qmpClass: string, desc: string) {
    super('host', 'QMP_COMMAND_FAILED', `qemu refused QMP command ${command}: ${desc} (${qmpClass})`, {
      hint: 'see the QMP transcript in the log folder',
      data: { command, class: qmpClass, desc },
    });
    this.name = 'QmpCommandError';
    this.qmpClass = qmpClass;
    this.desc = desc;
    this.command = command;
  }
}

export interface QmpConnectOptions {
  /** the unix socket qemu listens on (`-qmp unix:<path>,server=on,wait=off`) */
  path: string;
  /** deadline for connecting plus the greeting and capabilities handshake; default 10 s */
  timeoutMs?: number;
  /** pause between connection attempts while the socket does not exist yet; default 20 ms */
  retryMs?: number;
  /** aborting gives up at once (e.g. the qemu process exited) */
  signal?: AbortSignal;
  /** JSON-lines transcript of every message, created 0600 */
  transcriptPath?: string;
}

export interface ExecuteOptions {
  /** default 30 s */
  timeoutMs?: number;
}

export interface WaitForEventOptions {
  predicate?: (e: QmpEvent) => boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** also consider events received before this call (in order); default false */
  includePast?: boolean;
}

interface Pending {
  id: string;
  command: string;
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

type Subscriber = (e: QmpEvent | null) => void;

const DEFAULT_EXECUTE_TIMEOUT_MS = 30_000;

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(typeof reason === 'string' ? reason : 'aborted');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function disconnected(path: string, what: string): InstallGuestError {
  return hostError('QMP_DISCONNECTED', `qemu closed the QMP connection ${path} ${what}`, {
    hint: 'qemu exited or crashed; see its stderr and the QMP transcript in the log folder',
    data: { socket: path },
  });
}

/** An open, negotiated QMP session. Create it with `connectQmp`. */
export class QmpClient {
  readonly path: string;
  readonly greeting: QmpGreeting;
  /** every event received, in order */
  readonly history: QmpEvent[] = [];
  /** settles (never rejects) once the connection is closed and the transcript flushed */
  readonly closed: Promise<void>;

  private readonly socket: net.Socket;
  private readonly transcript: WriteStream | undefined;
  private readonly startedAt = performance.now();
  private readonly pending: Pending[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private nextId = 1;
  private isClosed = false;
  private closeWhy = 'before answering';

  /** @internal use connectQmp */
  constructor(path: string, socket: net.Socket, greeting: QmpGreeting, transcript: WriteStream | undefined) {
    this.path = path;
    this.socket = socket;
    this.greeting = greeting;
    this.transcript = transcript;
    this.closed = new Promise<void>((resolve) => {
      const onClose = (): void => {
        if (this.isClosed) return;
        this.note('closed');
        this.isClosed = true;
        for (const p of this.pending.splice(0)) {
          if (p.timer) clearTimeout(p.timer);
          p.reject(disconnected(path, `${this.closeWhy} ${p.command}`));
        }
        for (const s of [...this.subscribers]) s(null);
        this.subscribers.clear();
        if (transcript) transcript.end(() => resolve());
        else resolve();
      };
      if (socket.destroyed) queueMicrotask(onClose);
      else socket.once('close', onClose);
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Runs one command; resolves with its `return` value, rejects with QmpCommandError on an error reply. */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    opts: ExecuteOptions = {},
  ): Promise<T> {
    if (this.isClosed) return Promise.reject(disconnected(this.path, `before ${command} was sent`));
    const id = `ig-${this.nextId++}`;
    const msg: Record<string, unknown> = { execute: command, id };
    if (args !== undefined) msg.arguments = args;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_EXECUTE_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { id, command, resolve: resolve as (v: unknown) => void, reject, timer: undefined };
      p.timer = setTimeout(() => {
        const i = this.pending.indexOf(p);
        if (i >= 0) this.pending.splice(i, 1);
        reject(
          timeoutError(
            'QMP_COMMAND_TIMEOUT',
            `qemu did not answer QMP command ${command} within ${timeoutMs} ms`,
            {
              hint: 'qemu may be hung; see the QMP transcript in the log folder',
              data: { command, socket: this.path },
            },
          ),
        );
      }, timeoutMs);
      this.pending.push(p);
      this.write(msg);
    });
  }

  /** Calls `listener` for every event from now on; returns an unsubscribe function. */
  onEvent(listener: (e: QmpEvent) => void): () => void {
    const sub: Subscriber = (e) => {
      if (e) listener(e);
    };
    this.subscribers.add(sub);
    return () => this.subscribers.delete(sub);
  }

  /** Events from now on, as an async stream that ends when the connection closes. */
  events(): AsyncIterableIterator<QmpEvent> {
    const queue: (QmpEvent | null)[] = [];
    let wake: (() => void) | undefined;
    let done = this.isClosed;
    const sub: Subscriber = (e) => {
      queue.push(e);
      wake?.();
    };
    if (!done) this.subscribers.add(sub);
    const finish = (): IteratorResult<QmpEvent> => {
      done = true;
      this.subscribers.delete(sub);
      return { done: true, value: undefined };
    };
    const it: AsyncIterableIterator<QmpEvent> = {
      next: async () => {
        for (;;) {
          if (queue.length > 0) {
            const e = queue.shift();
            if (e === null || e === undefined) return finish();
            return { done: false, value: e };
          }
          if (done) return finish();
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      },
      return: () => Promise.resolve(finish()),
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** The first event named `name` (and passing `predicate`); rejects on timeout, abort or close. */
  waitForEvent(name: string, opts: WaitForEventOptions = {}): Promise<QmpEvent> {
    const match = (e: QmpEvent): boolean => e.event === name && (opts.predicate ? opts.predicate(e) : true);
    if (opts.includePast) {
      const past = this.history.find(match);
      if (past) return Promise.resolve(past);
    }
    return new Promise<QmpEvent>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        this.subscribers.delete(sub);
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      const sub: Subscriber = (e) => {
        if (e === null) {
          cleanup();
          reject(disconnected(this.path, `while waiting for event ${name}`));
        } else if (match(e)) {
          cleanup();
          resolve(e);
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(asError(opts.signal?.reason));
      };
      if (this.isClosed) {
        reject(disconnected(this.path, `while waiting for event ${name}`));
        return;
      }
      if (opts.signal?.aborted) {
        onAbort();
        return;
      }
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined) {
        const ms = opts.timeoutMs;
        timer = setTimeout(() => {
          cleanup();
          reject(
            timeoutError('QMP_EVENT_TIMEOUT', `qemu sent no ${name} event within ${ms} ms`, {
              data: { event: name, socket: this.path },
            }),
          );
        }, ms);
      }
      this.subscribers.add(sub);
    });
  }

  /** Closes the connection (qemu keeps running); resolves once the transcript is flushed. */
  async close(): Promise<void> {
    if (!this.isClosed) {
      this.closeWhy = 'because the client closed it, before answering';
      this.socket.end();
      this.socket.destroySoon();
    }
    await this.closed;
  }

  /** @internal feeds one parsed message that arrived after the handshake */
  handle(msg: Record<string, unknown>): void {
    if (typeof msg.event === 'string') {
      const e: QmpEvent = {
        event: msg.event,
        data: (msg.data as Record<string, unknown> | undefined) ?? {},
        timestamp: (msg.timestamp as QmpEvent['timestamp'] | undefined) ?? { seconds: 0, microseconds: 0 },
      };
      this.history.push(e);
      for (const s of [...this.subscribers]) s(e);
      return;
    }
    if ('return' in msg || 'error' in msg) {
      const id = typeof msg.id === 'string' ? msg.id : undefined;
      // Replies come back in order; one without an id (qemu's JSON parse errors) answers the oldest.
      const i =
        id === undefined ? (this.pending.length > 0 ? 0 : -1) : this.pending.findIndex((p) => p.id === id);
      if (i < 0) {
        this.note(`reply for no pending command (id ${id ?? 'none'})`);
        return;
      }
      const [p] = this.pending.splice(i, 1);
      if (!p) return;
      if (p.timer) clearTimeout(p.timer);
      if ('error' in msg) {
        const err = (msg.error ?? {}) as { class?: string; desc?: string };
        p.reject(new QmpCommandError(p.command, err.class ?? 'GenericError', err.desc ?? 'no description'));
      } else {
        p.resolve(msg.return);
      }
    }
  }

  /** @internal */
  write(msg: Record<string, unknown>): void {
    this.record('out', msg);
    this.socket.write(`${JSON.stringify(msg)}\n`);
  }

  /** @internal */
  note(text: string): void {
    this.record('note', { note: text });
  }

  /** @internal */
  record(dir: 'in' | 'out' | 'note', msg: unknown): void {
    if (!this.transcript || this.transcript.writableEnded) return;
    const ms = Math.round((performance.now() - this.startedAt) * 1000) / 1000;
    this.transcript.write(`${JSON.stringify({ t: new Date().toISOString(), ms, dir, msg })}\n`);
  }
}

/** Splits a byte stream into JSON messages (qemu writes one per line). */
class LineParser {
  private buf = '';
  constructor(
    private readonly onMessage: (m: Record<string, unknown>) => void,
    private readonly onBad: (l: string) => void,
  ) {}

  push(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        this.onBad(line);
        continue;
      }
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        this.onMessage(parsed as Record<string, unknown>);
      } else {
        this.onBad(line);
      }
    }
  }
}

function tryConnect(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(path);
    const onError = (e: Error): void => {
      s.destroy();
      reject(e);
    };
    s.once('error', onError);
    s.once('connect', () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

/**
 * Connects to qemu's QMP socket, retrying while it does not exist yet or refuses connections,
 * then reads the greeting and enters command mode with `qmp_capabilities`.
 */
export async function connectQmp(opts: QmpConnectOptions): Promise<QmpClient> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retryMs = opts.retryMs ?? 20;
  const deadline = performance.now() + timeoutMs;
  const timedOut = (what: string): InstallGuestError =>
    timeoutError('QMP_CONNECT_TIMEOUT', `qemu's QMP socket ${opts.path} ${what} within ${timeoutMs} ms`, {
      hint: 'qemu is slow to start or hung at start-up; see its stderr in the log folder',
      data: { socket: opts.path },
    });
  const aborted = (): Error => asError(opts.signal?.reason);

  let socket: net.Socket | undefined;
  let lastError: NodeJS.ErrnoException | undefined;
  while (!socket) {
    if (opts.signal?.aborted) throw aborted();
    try {
      socket = await tryConnect(opts.path);
    } catch (e) {
      lastError = e as NodeJS.ErrnoException;
      if (lastError.code !== 'ENOENT' && lastError.code !== 'ECONNREFUSED') {
        throw hostError(
          'QMP_CONNECT_FAILED',
          `cannot connect to qemu's QMP socket ${opts.path}: ${lastError.message}`,
          {
            hint: 'check that the work directory is private to this user and the path is short enough',
            cause: e,
            data: { socket: opts.path },
          },
        );
      }
      if (performance.now() + retryMs > deadline)
        throw timedOut(`did not accept a connection (${lastError.code})`);
      await sleep(retryMs);
    }
  }

  const transcript = opts.transcriptPath
    ? createWriteStream(opts.transcriptPath, { flags: 'a', mode: 0o600 })
    : undefined;
  transcript?.on('error', () => undefined);
  const sock = socket;
  sock.setEncoding('utf8');

  // Until the greeting arrives, messages go to a local queue; then to the client.
  const holder: { client?: QmpClient } = {};
  const early: Record<string, unknown>[] = [];
  let greetingWaiter: ((m: Record<string, unknown>) => void) | undefined;
  const rawLog: { dir: 'in' | 'note'; msg: unknown }[] = [];
  const parser = new LineParser(
    (m) => {
      if (holder.client) {
        holder.client.record('in', m);
        holder.client.handle(m);
      } else {
        rawLog.push({ dir: 'in', msg: m });
        if (greetingWaiter) greetingWaiter(m);
        else early.push(m);
      }
    },
    (bad) => {
      if (holder.client) holder.client.note(`unparsable input: ${bad.slice(0, 200)}`);
      else rawLog.push({ dir: 'note', msg: { note: `unparsable input: ${bad.slice(0, 200)}` } });
    },
  );
  sock.on('data', (d: string) => parser.push(d));
  sock.on('error', () => undefined); // 'close' follows; pending commands are rejected there

  const greeting = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const left = Math.max(0, deadline - performance.now());
    const timer = setTimeout(() => {
      cleanup();
      sock.destroy();
      reject(timedOut('sent no greeting'));
    }, left);
    const onClose = (): void => {
      cleanup();
      reject(disconnected(opts.path, 'before sending its greeting'));
    };
    const onAbort = (): void => {
      cleanup();
      sock.destroy();
      reject(aborted());
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      sock.off('close', onClose);
      opts.signal?.removeEventListener('abort', onAbort);
      greetingWaiter = undefined;
    };
    sock.once('close', onClose);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    greetingWaiter = (m) => {
      cleanup();
      resolve(m);
    };
    const first = early.shift();
    if (first) greetingWaiter(first);
  });
  if (!('QMP' in greeting)) {
    sock.destroy();
    throw hostError(
      'QMP_BAD_GREETING',
      `${opts.path} did not greet like a QMP monitor: ${JSON.stringify(greeting).slice(0, 200)}`,
      {
        hint: 'the socket must come from `-qmp unix:<path>,server=on,wait=off` (a control-mode monitor)',
        data: { socket: opts.path },
      },
    );
  }

  const client = new QmpClient(opts.path, sock, greeting as unknown as QmpGreeting, transcript);
  holder.client = client;
  client.note(`connected to ${opts.path}`);
  for (const r of rawLog) client.record(r.dir, r.msg);
  for (const m of early) client.handle(m);

  const left = Math.max(1, deadline - performance.now());
  try {
    await client.execute('qmp_capabilities', undefined, { timeoutMs: left });
  } catch (e) {
    await client.close();
    throw e;
  }
  return client;
}

// ---------------------------------------------------------------------------------------------
// Helpers for the commands install-guest uses.
