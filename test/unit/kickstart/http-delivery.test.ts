/**
 * --kickstart-delivery http through the render-kickstart stage: the answer file is served on
 * 127.0.0.1 (the guest's 10.0.2.2 under qemu user networking), its URL is on the kernel command
 * line, a client on loopback fetches exactly the rendered file, and the server stops when the
 * stage is cleaned up at the end of the install.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHost } from '../../../src/host/host.js';
import type { StageContext } from '../../../src/pipeline/stage.js';
import type { InstallState } from '../../../src/pipeline/state.js';
import { parseInstallRequest } from '../../../src/request/request.js';
import { renderKickstartStage } from '../../../src/stages/render-kickstart.js';

describe('render-kickstart stage: --kickstart-delivery http', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ig-ks-http-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function contextFor(
    argv: Record<string, unknown>,
  ): Promise<{ ctx: StageContext<InstallState>; lines: string[] }> {
    await writeFile(path.join(dir, 'vmlinuz'), 'kernel');
    await writeFile(path.join(dir, 'initrd.img'), 'initrd');
    await mkdir(path.join(dir, 'work'), { mode: 0o700 });
    await mkdir(path.join(dir, 'logs'));
    const request = parseInstallRequest(
      { name: 'web', osVariant: 'debian12', boot: `kernel=${dir}/vmlinuz,initrd=${dir}/initrd.img`, ...argv },
      dir,
    );
    const lines: string[] = [];
    const state: InstallState = {
      raw: {},
      cwd: dir,
      request,
      workDir: path.join(dir, 'work'),
      logDir: path.join(dir, 'logs'),
      media: {
        source: `${dir}/vmlinuz`,
        kind: 'kernel-initrd',
        family: 'debian12',
        boot: {
          kind: 'kernel',
          kernel: `${dir}/vmlinuz`,
          initrd: `${dir}/initrd.img`,
          append: 'console=ttyS0',
        },
      },
    };
    const ctx: StageContext<InstallState> = {
      state,
      host: createHost({ root: dir }),
      log: { info: (l) => lines.push(l), warn: (l) => lines.push(l) },
      signal: new AbortController().signal,
      dryRun: false,
      record: () => undefined,
    };
    return { ctx, lines };
  }

  it('serves the answer file to a loopback client until the stage is cleaned up', async () => {
    const { ctx, lines } = await contextFor({ kickstartDelivery: 'http' });
    const out = (await renderKickstartStage.run(ctx))!;
    const served = out.servedKickstart!;
    expect(served.url).to.match(/^http:\/\/10\.0\.2\.2:\d+\/ks\/[0-9a-f]{32}\/preseed\.cfg$/);
    const append = out.media!.boot.kind === 'kernel' ? out.media!.boot.append : '';
    expect(append).to.include(`url=${served.url}`).and.include('auto=true priority=critical');
    // the initrd is untouched: nothing rides in it
    expect(out.media!.boot.kind === 'kernel' && out.media!.boot.initrd).to.equal(`${dir}/initrd.img`);
    expect(out.answerFile).to.include({ family: 'preseed', delivery: 'http' });

    const local = served.url.replace('10.0.2.2', '127.0.0.1');
    const res = await fetch(local);
    expect(res.status).to.equal(200);
    const body = await res.text();
    expect(body).to.match(/^d-i debian-installer\/locale string /m);
    expect(body).to.match(/^d-i preseed\/late_command string in-target /m);
    expect(served.fetches).to.equal(1);
    expect(lines.some((l) => l.startsWith('answer file fetched over HTTP'))).to.equal(true);
    expect((await fetch(local.replace(/\/ks\/[0-9a-f]+\//, '/ks/guess/'))).status).to.equal(404);

    await renderKickstartStage.cleanup!({ ...ctx, state: { ...ctx.state, ...out } }, 'success');
    // a new connection (not a pooled one) to the port: nobody listens any more
    const after = await new Promise<string>((resolve) => {
      const sock = connect(Number(new URL(local).port), '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve('connected');
      });
      sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(after).to.equal('ECONNREFUSED');
  });

  it('is refused for a guest that cannot reach 127.0.0.1 (bridge networking), before anything is served', async () => {
    const { ctx } = await contextFor({ kickstartDelivery: 'http', network: 'bridge=br0' });
    try {
      await renderKickstartStage.run(ctx);
      expect.fail('expected KICKSTART_DELIVERY');
    } catch (e) {
      expect(e).to.include({ code: 'KICKSTART_DELIVERY', exitCode: 2 });
    }
  });
});
