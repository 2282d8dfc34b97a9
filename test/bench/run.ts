/**
 * `npm run bench`: runs the benchmark suites, prints one table and writes test/bench/results.json.
 * Every figure is the median of several runs with min and max; every comparison is a ratio
 * measured in the same run on the same machine (see lib.ts).
 *
 *   npm run bench                         every suite
 *   npm run bench -- inventory media      only these suites (by id)
 *   npm run bench -- --runs 5             runs per figure, for every suite
 *   npm run bench -- --quick              smoke mode: fewest runs, smallest inputs
 *   npm run bench -- --out FILE           write the JSON there instead
 *   npm run bench -- provision --real-installer debian12 [--mirror HOST/DIR]
 *                                         opt-in: the provision suite against a full install with
 *                                         the real debian-installer (Internet mirror, up to an hour)
 *
 * Suites: cli-start, inventory, media, failure-detection, pipeline, batch, provision, libvirt,
 * debian-cloud.
 */
import { writeFile } from 'node:fs/promises';
import { benchCliStart } from './cli-start.js';
import { benchFailureDetection } from './failure-detection.js';
import { benchInventory } from './inventory.js';
import { type BenchOptions, type Figure, formatTable, loadAverage, machine, runsFor } from './lib.js';
import { benchMedia } from './media.js';
import { benchPipeline } from './pipeline.js';
import { benchBatch } from './batch.js';
import { benchLibvirt } from './libvirt.js';
import { benchProvision } from './provision.js';
import { benchDebianCloud } from './debian-cloud.js';
import {
  DEFAULT_MIRROR,
  REAL_INSTALLERS,
  type Mirror,
  type RealInstaller,
  benchRealInstall,
  parseMirror,
} from './debian-install.js';

interface Suite {
  id: string;
  title: string;
  run: (opts: BenchOptions) => Promise<Figure[]>;
}

const suites: Suite[] = [
  { id: 'cli-start', title: 'CLI start', run: benchCliStart },
  { id: 'inventory', title: 'Inventory', run: benchInventory },
  { id: 'media', title: 'Media', run: benchMedia },
  { id: 'failure-detection', title: 'Failure detection', run: benchFailureDetection },
  { id: 'pipeline', title: 'Pipeline overhead', run: benchPipeline },
  // the whole-install suites: one run each unless --runs says otherwise (each costs minutes)
  {
    id: 'batch',
    title: 'Batch',
    run: (o) => benchBatch({ runs: runsFor(o, 1), guests: 3, log: o.log }),
  },
  {
    id: 'libvirt',
    title: 'libvirt: install-guest --connect and virt-install through one libvirtd',
    run: (o) => benchLibvirt({ runs: runsFor(o, 1), log: o.log }),
  },
  {
    id: 'provision',
    title: 'Provision',
    run: (o) =>
      realInstaller
        ? benchRealInstall({ installer: realInstaller, mirror, runs: runsFor(o, 1), log: o.log })
        : benchProvision({ runs: runsFor(o, 1), log: o.log }),
  },
  // a real OS (systemd, cloud-init): the Debian image's build time against a second provision of it
  {
    id: 'debian-cloud',
    title: 'Debian cloud image',
    run: (o) => benchDebianCloud({ runs: runsFor(o, 1), log: o.log }),
  },
];

function usage(message: string): never {
  process.stderr.write(
    `bench: ${message}\nusage: npm run bench -- [--runs N] [--quick] [--out FILE] [--real-installer ${REAL_INSTALLERS.join('|')} [--mirror HOST/DIR]] [${suites.map((s) => s.id).join('|')} …]\n`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
let runs: number | undefined;
let quick = false;
let out = 'test/bench/results.json';
let realInstaller: RealInstaller | undefined;
let mirror: Mirror = DEFAULT_MIRROR;
let mirrorGiven = false;
const only: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--quick') quick = true;
  else if (a === '--real-installer' || a === '--mirror') {
    const v = args[++i];
    if (v === undefined) usage(`${a} needs a value`);
    if (a === '--mirror') {
      try {
        mirror = parseMirror(v);
      } catch (e) {
        usage((e as Error).message);
      }
      mirrorGiven = true;
    } else if ((REAL_INSTALLERS as readonly string[]).includes(v)) realInstaller = v as RealInstaller;
    else usage(`--real-installer takes ${REAL_INSTALLERS.join(' or ')}, not '${v}'`);
  } else if (a === '--runs' || a === '--out') {
    const v = args[++i];
    if (v === undefined) usage(`${a} needs a value`);
    if (a === '--out') out = v;
    else {
      runs = Number(v);
      if (!Number.isInteger(runs) || runs < 1) usage(`--runs takes a whole number ≥ 1, not '${v}'`);
    }
  } else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else if (!suites.some((s) => s.id.startsWith(a.toLowerCase()))) usage(`no suite named '${a}'`);
  else only.push(a.toLowerCase());
}

if (mirrorGiven && !realInstaller) usage('--mirror goes with --real-installer');
if (realInstaller && !(only.length > 0 && only.every((o) => 'provision'.startsWith(o))))
  usage('--real-installer measures the provision suite only: name it (… provision --real-installer …)');

const opts: BenchOptions = {
  ...(runs !== undefined ? { runs } : {}),
  quick,
  log: (line) => void process.stderr.write(`bench: ${line}\n`),
};
const chosen = suites.filter((s) => only.length === 0 || only.some((o) => s.id.startsWith(o)));
const figures: Figure[] = [];
const started = new Date().toISOString();
const loadBefore = loadAverage();
for (const suite of chosen) {
  opts.log(`${suite.title}…`);
  const t0 = performance.now();
  for (const f of await suite.run(opts)) figures.push({ ...f, suite: suite.id });
  opts.log(`${suite.title} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
const loadAfter = loadAverage();
const table = chosen
  .map((s) => `${s.title}\n\n${formatTable(figures.filter((f) => f.suite === s.id))}`)
  .join('\n\n');
process.stdout.write(
  `\nMachine: ${machine()}\nDate: ${started}${quick ? ' (--quick)' : ''}\nLoad average (1/5/15 min): ${loadBefore} before, ${loadAfter} after\n\n${table}\n`,
);
await writeFile(
  out,
  `${JSON.stringify({ machine: machine(), date: started, quick, load: { before: loadBefore, after: loadAfter }, figures }, null, 2)}\n`,
);
process.stderr.write(`bench: wrote ${out}\n`);
