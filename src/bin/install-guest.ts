#!/usr/bin/env node
/**
 * The only code that reads process.argv and process.env, installs signal handlers and sets the exit
 * code. SIGINT/SIGTERM abort the run's signal so every started stage is cleaned up (devices go
 * back to their host drivers) before exit 130; a second signal exits at once.
 */
import { main } from '../cli/main.js';

const controller = new AbortController();
let signals = 0;
const onSignal = (sig: NodeJS.Signals): void => {
  signals += 1;
  if (signals > 1) {
    process.stderr.write(
      `install-guest: second ${sig}: exiting without waiting for cleanup; run \`install-guest recover\`\n`,
    );
    process.exit(130);
  }
  process.stderr.write(`install-guest: ${sig}: stopping and cleaning up (send again to exit at once)\n`);
  controller.abort(Object.assign(new Error(`interrupted by ${sig}`), { signal: sig }));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

/**
 * A reader that goes away (`install-guest hostdev list | head -3`) is not an error: after EPIPE the
 * stream's writes are dropped and the command ends as it would have (a running install still cleans
 * up and gives its devices back); no stack trace. Node ignores SIGPIPE, so the write fails instead.
 */
function pipeSafe(stream: NodeJS.WriteStream): {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
} {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') closed = true;
    else throw e;
  });
  return {
    write: (chunk) => (closed ? true : stream.write(chunk)),
    get isTTY() {
      return stream.isTTY;
    },
    get columns() {
      return stream.columns;
    },
  };
}

const code = await main({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: pipeSafe(process.stdout),
  stderr: pipeSafe(process.stderr),
  cwd: process.cwd(),
  signal: controller.signal,
});
process.exitCode = code;
