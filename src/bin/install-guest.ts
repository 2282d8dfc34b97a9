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

const code = await main({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  signal: controller.signal,
});
process.exitCode = code;
