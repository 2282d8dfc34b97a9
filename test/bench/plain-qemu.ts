/**
 * The baseline of the pipeline-overhead benchmark (test/bench/pipeline.ts): the SAME qemu commands
 * that `install-guest install` ran, run by the least a script must do to run them. Built by tsc to
 * dist/test/bench/plain-qemu.js and run with plain `node` (no tsx), node built-ins only.
 *
 *   node dist/test/bench/plain-qemu.js --from LOGDIR --initrd ORIGINAL_INITRD --tree TREE_DIR \
 *        --disk DISK --disk-size 1024M --work WORKDIR
 *
 * What it does, in order (each step is what the tool also does, nothing else):
 *  1. `qemu-img create -q -f qcow2 DISK 1024M`: the same disk format and size the tool creates.
 *  2. The kickstart injection: copies the original initrd to WORKDIR/initrd-with-answers.img and
 *     appends zero padding to a 4-byte boundary plus a gzip (level 9) newc archive holding `ks.cfg`
 *     (mode 0600), the tool's own recipe. The kickstart text is LOGDIR/ks.cfg.redacted, which is
 *     the text the tool injected when nothing was redacted (the bench checks that).
 *  3. Serves TREE_DIR over HTTP on 127.0.0.1 (GET/HEAD of files, as the tool serves a local tree to
 *     anaconda for `inst.repo=`), on a new ephemeral port.
 *  4. Reads LOGDIR/install.args and LOGDIR/confirm.args (one argument per line, argv[0] the qemu
 *     binary) and rewrites only what is specific to the tool's run: its work dir (sockets, the
 *     injected initrd) becomes WORKDIR, its disk path becomes DISK, its `inst.repo` port becomes
 *     this server's port. Every other argument is passed unchanged.
 *  5. Install boot: listens on the serial socket the argv names (qemu connects to it), copies the
 *     console to WORKDIR/serial-install.log, spawns qemu and waits for it to exit (the argv has
 *     -no-reboot; the installer powers off). Exit status must be 0.
 *  6. Confirm boot: the same with confirm.args; reads the console until the guest's
 *     `IG-CONFIRM end` line, then sends QMP `quit` (connect, read the greeting, qmp_capabilities,
 *     quit) and waits for qemu to exit.
 * It prints one JSON line: { installMs, confirmMs, totalMs } (totalMs from the script's first line).
 * It does not watch for failures, does not parse progress, does not check the confirmation block
 * and does not clean anything up but its own processes: the bench removes WORKDIR.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { appendFile, chmod, copyFile, readFile, realpath, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const t0 = performance.now();
const argv = process.argv.slice(2);
const arg = (name: string): string => {
  const i = argv.indexOf(`--${name}`);
  const v = i >= 0 ? argv[i + 1] : undefined;
  if (!v) throw new Error(`plain-qemu: --${name} is required`);
  return v;
};
const from = arg('from');
const work = arg('work');
const disk = arg('disk');

function run(file: string, args: readonly string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

/** A newc archive of one regular file at the archive root, with its trailer. */
function newc(name: string, data: Buffer, mode: number): Buffer {
  const parts: Buffer[] = [];
  const entry = (n: string, m: number, body: Buffer, ino: number): void => {
    const nameBuf = Buffer.from(`${n}\0`);
    const fields = [ino, m, 0, 0, 1, 0, body.length, 0, 0, 0, 0, nameBuf.length, 0];
    const head = `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`;
    const pad = (len: number): Buffer => Buffer.alloc((4 - (len % 4)) % 4);
    parts.push(Buffer.from(head), nameBuf, pad(110 + nameBuf.length), body, pad(body.length));
  };
  entry(name, 0o100000 | mode, data, 1);
  entry('TRAILER!!!', 0, Buffer.alloc(0), 0);
  return Buffer.concat(parts);
}

// 1. the disk
if ((await run('qemu-img', ['create', '-q', '-f', 'qcow2', disk, arg('disk-size')])) !== 0)
  throw new Error('qemu-img create failed');

// 2. the kickstart in a copy of the initrd
const initrd = path.join(work, 'initrd-with-answers.img');
await copyFile(arg('initrd'), initrd);
await chmod(initrd, 0o600);
const size = (await stat(initrd)).size;
const ks = await readFile(path.join(from, 'ks.cfg.redacted'));
await appendFile(
  initrd,
  Buffer.concat([Buffer.alloc((4 - (size % 4)) % 4), gzipSync(newc('ks.cfg', ks, 0o600), { level: 9 })]),
);

// 3. the tree over HTTP
const root = await realpath(arg('tree'));
const server = http.createServer((req, res) => {
  void (async () => {
    const file = path.resolve(root, `.${decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)}`);
    const st = file.startsWith(root) ? await stat(file).catch(() => null) : null;
    if (!st?.isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  })();
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;

// 4. the tool's argvs, with only its run-specific paths changed
async function readArgs(file: string): Promise<string[]> {
  return (await readFile(path.join(from, file), 'utf8')).split('\n').filter((l) => l !== '');
}
const installArgs = await readArgs('install.args');
const serialPath = (args: readonly string[]): string =>
  /(?:^|,)path=([^,]+)/.exec(args.find((a) => a.startsWith('socket,id=serial0,')) ?? '')?.[1] ?? '';
const oldWork = path.dirname(serialPath(installArgs));
const oldDisk = /driver=file,filename=([^,]+)/.exec(installArgs.join('\n'))?.[1];
if (!oldWork || !oldDisk) throw new Error('plain-qemu: no serial socket or disk in install.args');
const rewrite = (args: readonly string[]): string[] =>
  args.map((a) =>
    a
      .split(`${oldWork}/`)
      .join(`${work}/`)
      .split(`filename=${oldDisk}`)
      .join(`filename=${disk}`)
      .replace(/inst\.repo=http:\/\/10\.0\.2\.2:\d+\//, `inst.repo=http://10.0.2.2:${port}/`),
  );

/** One boot: serial listener, qemu, and (confirm) QMP quit after the confirmation block. */
async function boot(args: string[], phase: string, untilLine?: string): Promise<number> {
  const tb = performance.now();
  const log = createWriteStream(path.join(work, `serial-${phase}.log`), { mode: 0o600 });
  const serial = net.createServer((sock) => {
    let text = '';
    sock.on('data', (d: Buffer) => {
      log.write(d);
      if (!untilLine) return;
      text = (text + d.toString('latin1')).slice(-4096);
      if (text.includes(untilLine)) {
        untilLine = undefined;
        const qmpPath = /^unix:([^,]+)/.exec(args[args.indexOf('-qmp') + 1] ?? '')?.[1] ?? '';
        const qmp = net.connect(qmpPath);
        let greeted = false;
        qmp.on('data', () => {
          if (greeted) return;
          greeted = true;
          qmp.write('{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n');
        });
        qmp.on('error', () => undefined);
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => serial.listen(serialPath(args), resolve));
  const code = await run(args[0]!, args.slice(1));
  serial.close();
  log.end();
  if (code !== 0) throw new Error(`plain-qemu: ${phase} qemu exited ${code}`);
  return performance.now() - tb;
}

// 5. and 6.
const installMs = await boot(rewrite(installArgs), 'install');
server.close();
server.closeAllConnections();
const confirmMs = await boot(rewrite(await readArgs('confirm.args')), 'confirm', 'IG-CONFIRM end');
process.stdout.write(`${JSON.stringify({ installMs, confirmMs, totalMs: performance.now() - t0 })}\n`);
