/**
 * `npm run bench`: runs every benchmark, prints one table and writes test/bench/results.json.
 * Figures are medians of several runs with min and max; comparisons are ratios from the same run.
 */
import { writeFile } from 'node:fs/promises';
import { benchCliStart } from './cli-start.js';
import { formatTable, machine, type Figure } from './lib.js';

const suites: [string, () => Promise<Figure[]>][] = [['CLI start', () => benchCliStart()]];

const only = process.argv.slice(2);
const figures: Figure[] = [];
for (const [name, run] of suites) {
  if (only.length && !only.some((o) => name.toLowerCase().includes(o.toLowerCase()))) continue;
  process.stderr.write(`bench: ${name}…\n`);
  figures.push(...(await run()));
}
const when = new Date().toISOString();
process.stdout.write(`\nMachine: ${machine()}\nDate: ${when}\n\n${formatTable(figures)}\n`);
await writeFile(
  'test/bench/results.json',
  `${JSON.stringify({ machine: machine(), date: when, figures }, null, 2)}\n`,
);
