/** What a finished batch reports: the summary table, the JSON result and the JUnit data. Pure. */
import type { JUnitCase, JUnitReport } from './junit.js';
import type { BatchResult, GuestOutcome, PhaseResult } from './scheduler.js';

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}

const sec = (s: number | undefined): string => (s === undefined ? '-' : `${s.toFixed(1)}s`);

function phaseCell(g: GuestOutcome, name: PhaseResult['phase']): string {
  return g.phases.find((p) => p.phase === name)?.status ?? '-';
}

/** The table printed at the end of a batch, then one line per failure and the tally. */
export function formatSummary(result: BatchResult): string[] {
  // a batch over hosts names each guest's host
  const hosts = result.guests.some((g) => g.host !== undefined);
  const rows = [
    ['GUEST', ...(hosts ? ['HOST'] : []), 'RESULT', 'INSTALL', 'CONFIRM', 'DEVICES', 'WAITED', 'TIME', 'LOG'],
  ];
  for (const g of result.guests) {
    rows.push([
      g.name,
      ...(hosts ? [g.host ?? '-'] : []),
      g.status,
      phaseCell(g, 'install'),
      phaseCell(g, 'confirm'),
      g.devices.map((d) => d.address).join(',') || '-',
      g.startedAt === undefined ? '-' : sec(g.waitedSec),
      g.startedAt === undefined ? '-' : sec(g.timeSec),
      g.logDir,
    ]);
  }
  const lines = table(rows);
  for (const g of result.guests) {
    if (g.status === 'failed' && g.error) lines.push(`${g.name}: ${g.error.message} [${g.error.code}]`);
    else if (g.status === 'cancelled' && g.reason) lines.push(`${g.name}: ${g.reason}`);
  }
  const c = result.counts;
  lines.push(
    `${result.guests.length} guests: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped, ${c.cancelled} cancelled in ${sec(result.timeSec)} (exit ${result.exitCode})`,
  );
  return lines;
}

/** The JSON printed with --json: the batch and every guest's outcome. */
export function resultJson(
  name: string,
  result: BatchResult,
  notes: ReadonlyMap<string, string> = new Map(),
): Record<string, unknown> {
  return {
    batch: name,
    exitCode: result.exitCode,
    startedAt: new Date(result.startedAt).toISOString(),
    timeSec: result.timeSec,
    counts: result.counts,
    guests: result.guests.map((g) => ({
      name: g.name,
      status: g.status,
      exitCode: g.exitCode,
      ...(g.host !== undefined ? { host: g.host } : {}),
      devices: g.devices.map((d) => ({
        address: d.address,
        vendorDevice: d.vendorDevice,
        iommuGroup: d.iommuGroup,
      })),
      reserved: g.reserved,
      logDir: g.logDir,
      ...(g.startedAt !== undefined ? { startedAt: new Date(g.startedAt).toISOString() } : {}),
      ...(g.waitedSec !== undefined ? { waitedSec: g.waitedSec } : {}),
      timeSec: g.timeSec,
      phases: g.phases,
      ...(g.error ? { error: g.error } : {}),
      ...(g.reason ? { reason: g.reason } : {}),
      ...(notes.has(g.name) ? { note: notes.get(g.name) } : {}),
    })),
  };
}

/**
 * One test case per guest and phase (install, confirm); a failure names its fatal line and log. A
 * batch over hosts has one suite per host, its `hostname` the host's name (the guests no host took
 * in a suite of their own, without one).
 */
export function batchToJUnit(name: string, result: BatchResult): JUnitReport {
  const timestamp = new Date(result.startedAt).toISOString().replace(/Z$/, '');
  if (result.guests.some((g) => g.host !== undefined)) {
    const hosts = [...new Set(result.guests.map((g) => g.host))];
    return {
      name: `install-guest batch ${name}`,
      suites: hosts.map((h) => ({
        name: h === undefined ? `${name} (no host)` : `${name}@${h}`,
        timestamp,
        ...(h !== undefined ? { hostname: h } : {}),
        cases: casesOf(result.guests.filter((g) => g.host === h)),
      })),
    };
  }
  return {
    name: `install-guest batch ${name}`,
    suites: [{ name, timestamp, cases: casesOf(result.guests) }],
  };
}

function casesOf(guests: readonly GuestOutcome[]): JUnitCase[] {
  const cases: JUnitCase[] = [];
  for (const g of guests) {
    for (const p of g.phases) {
      const base = { name: p.phase, classname: g.name, timeSec: p.timeSec };
      if (p.status === 'failed') {
        const f = p.failure ?? { message: 'failed' };
        const text = [
          f.message,
          ...(f.fatalLine !== undefined ? [`fatal line: ${f.fatalLine}`] : []),
          `log: ${f.logPath ?? g.logDir}`,
          ...(f.hint ? [`hint: ${f.hint}`] : []),
        ].join('\n');
        const message = f.fatalLine !== undefined ? `${f.message}: ${f.fatalLine}` : f.message;
        cases.push({ ...base, failure: { message, text, ...(f.code ? { type: f.code } : {}) } });
      } else if (p.status === 'skipped') {
        cases.push({ ...base, skipped: { message: p.reason ?? g.reason ?? 'not run' } });
      } else cases.push(base);
    }
  }
  return cases;
}
