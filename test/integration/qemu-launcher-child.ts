/**
 * A supervisor process for the parent-death test: launches a firmware-only qemu through
 * launchQemu, prints its PID and waits to be killed. argv: WORKDIR DIE_WITH_PARENT(yes|no)
 */
import { launchQemu } from '../../src/qemu/process.js';
import { QEMU, firmwareOnlyArgs, workPaths } from './qemu-helpers.js';

const [dir, die] = process.argv.slice(2);
if (!dir || (die !== 'yes' && die !== 'no')) throw new Error('usage: qemu-launcher-child WORKDIR yes|no');
const paths = workPaths(dir);
const h = await launchQemu({
  binary: QEMU,
  argv: firmwareOnlyArgs(paths),
  workDir: dir,
  ...paths,
  maxLifetimeMs: 60_000,
  dieWithParent: die === 'yes',
});
process.stdout.write(`${h.pid}\n`);
await new Promise((resolve) => setTimeout(resolve, 60_000));
