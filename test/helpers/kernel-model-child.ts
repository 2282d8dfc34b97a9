/**
 * A child process for crash, race and signal tests: runs the CLI (main) in-process against a
 * kernel-model tree, with SIGINT/SIGTERM wired like src/bin does it.
 *
 *   node dist/test/helpers/kernel-model-child.js ROOT ARGV...   (or node --import tsx …/kernel-model-child.ts)
 *
 * Environment: KERNEL_MODEL_KILL_AFTER=N (SIGKILL itself right after the N-th write),
 * KERNEL_MODEL_DELAY_MS, KERNEL_MODEL_FAULTS (JSON), KERNEL_MODEL_VANISH=addr@n, and
 * KERNEL_MODEL_GO=FILE (wait until FILE exists before starting: a barrier for races).
 */
import { existsSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { createHost } from '../../src/host/host.js';
import { KernelModel, linkProcess } from './kernel-model.js';

const [root, ...argv] = process.argv.slice(2);
if (!root) throw new Error('usage: kernel-model-child ROOT ARGV...');
linkProcess(root, process.pid);

const go = process.env.KERNEL_MODEL_GO;
if (go) {
  const until = Date.now() + 30_000;
  while (!existsSync(go) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
}

const controller = new AbortController();
let signals = 0;
const onSignal = (sig: NodeJS.Signals): void => {
  if (++signals > 1) process.exit(130);
  controller.abort(Object.assign(new Error(`interrupted by ${sig}`), { signal: sig }));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const model = KernelModel.fromEnv(root);
process.exitCode = await main({
  argv,
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  signal: controller.signal,
  host: createHost({ root, writer: model.writer, exec: model.exec }),
});
