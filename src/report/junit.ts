/**
 * JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters): one `<testsuite>` per batch
 * or install, one `<testcase>` per install or check. Text from guests (serial lines with escape
 * codes) is made XML-safe: characters XML 1.0 forbids are dropped, markup characters escaped.
 */

export type JUnitStatus = 'passed' | 'failed' | 'error' | 'skipped';

export interface JUnitCase {
  name: string;
  classname?: string;
  timeMs?: number;
  status: JUnitStatus;
  /** the one-line reason (failed, error, skipped) */
  message?: string;
  /** e.g. the error code `INSTALL_FAILED` */
  type?: string;
  /** longer text: the fatal console line with context, a stack, … */
  details?: string;
  systemOut?: string;
  systemErr?: string;
}

export interface JUnitSuite {
  name: string;
  /** ISO 8601 start time */
  timestamp?: string;
  hostname?: string;
  timeMs?: number;
  properties?: Record<string, string>;
  cases: JUnitCase[];
}

// XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
const INVALID_XML =
  // eslint-disable-next-line no-control-regex
  /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]/g;

export function xmlText(s: string): string {
  return s
    .replace(ANSI, '')
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  return xmlText(s)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

const secs = (ms: number | undefined): string => ((ms ?? 0) / 1000).toFixed(3);

function counts(cases: readonly JUnitCase[]): {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
} {
  return {
    tests: cases.length,
    failures: cases.filter((c) => c.status === 'failed').length,
    errors: cases.filter((c) => c.status === 'error').length,
    skipped: cases.filter((c) => c.status === 'skipped').length,
  };
}

function attrs(pairs: Record<string, string | number | undefined>): string {
  return Object.entries(pairs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');
}

function testcase(c: JUnitCase, suite: string): string {
  const head = `    <testcase${attrs({ name: c.name, classname: c.classname ?? suite, time: secs(c.timeMs) })}`;
  const body: string[] = [];
  const outcome = { failed: 'failure', error: 'error', skipped: 'skipped', passed: '' }[c.status];
  if (outcome) {
    const a = attrs({ message: c.message, type: outcome === 'skipped' ? undefined : c.type });
    body.push(
      c.details ? `      <${outcome}${a}>${xmlText(c.details)}</${outcome}>` : `      <${outcome}${a}/>`,
    );
  }
  if (c.systemOut) body.push(`      <system-out>${xmlText(c.systemOut)}</system-out>`);
  if (c.systemErr) body.push(`      <system-err>${xmlText(c.systemErr)}</system-err>`);
  return body.length === 0 ? `${head}/>` : `${head}>\n${body.join('\n')}\n    </testcase>`;
}

/** The whole report as a string (UTF-8 XML declaration included). */
export function writeJUnit(suites: readonly JUnitSuite[], name = 'install-guest'): string {
  const all = suites.flatMap((s) => s.cases);
  const total = counts(all);
  const totalMs = suites.reduce(
    (n, s) => n + (s.timeMs ?? s.cases.reduce((m, c) => m + (c.timeMs ?? 0), 0)),
    0,
  );
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name, ...total, time: secs(totalMs) })}>`,
  ];
  for (const s of suites) {
    const c = counts(s.cases);
    const ms = s.timeMs ?? s.cases.reduce((m, x) => m + (x.timeMs ?? 0), 0);
    lines.push(
      `  <testsuite${attrs({ name: s.name, ...c, time: secs(ms), timestamp: s.timestamp, hostname: s.hostname })}>`,
    );
    const props = Object.entries(s.properties ?? {});
    if (props.length > 0) {
      lines.push('    <properties>');
      for (const [k, v] of props) lines.push(`      <property${attrs({ name: k, value: v })}/>`);
      lines.push('    </properties>');
    }
    for (const tc of s.cases) lines.push(testcase(tc, s.name));
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
