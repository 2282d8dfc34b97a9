/**
 * The CLI entry with the proposed synchronous Host reads attached (see src/pci/host-reads.ts):
 * what `install-guest` would do once src/host/host.ts offers `host.sync`. Used by the benchmark
 * only; built by tsc to dist/test/bench/inventory-sync-cli.js.
 */
import { main } from '../../src/cli/main.js';
import { createHost } from '../../src/host/host.js';
import { withSyncReads } from '../helpers/sync-host.js';

const root = process.env.INSTALL_GUEST_HOST_ROOT ?? '/';
process.exitCode = await main({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  host: withSyncReads(createHost({ root })),
});
