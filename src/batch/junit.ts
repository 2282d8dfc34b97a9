/**
 * A small JUnit XML writer, for the report's data: suites of cases, each passed, failed or skipped.
 * Text from consoles can hold characters XML 1.0 forbids (escape sequences, NULs): they are written
 * as visible `\xNN` escapes, so the file always parses. The format is the one Jenkins, GitLab and
 * GitHub's test reporters read (checked against fixtures/batch/junit.xsd in the tests).
 */
export interface JUnitCase {
  name: string;
  classname: string;
  timeSec: number;
  failure?: { message: string; text: string; type?: string };
  skipped?: { message: string };
}

export interface JUnitSuite {
  name: string;
  /** ISO 8601 without zone (the JUnit schema's type), when known */
  timestamp?: string;
  /** the host the suite's cases ran on (a batch over hosts) */
  hostname?: string;
  cases: JUnitCase[];
}

export interface JUnitReport {
  name?: string;
  suites: JUnitSuite[];
}

// XML 1.0 allows tab, LF, CR and the ranges below; anything else cannot appear, even escaped
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function visible(s: string): string {
  return s.replace(NOT_XML_CHAR, (c) => {
    const code = c.codePointAt(0)!;
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

export function xmlText(s: string): string {
  return visible(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  return xmlText(s)
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\t/g, '&#9;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;');
}

const secs = (t: number): string => (Number.isFinite(t) && t > 0 ? t : 0).toFixed(3);

function counts(cases: readonly JUnitCase[]): {
  tests: number;
  failures: number;
  skipped: number;
  time: number;
} {
  return {
    tests: cases.length,
    failures: cases.filter((c) => c.failure).length,
    skipped: cases.filter((c) => !c.failure && c.skipped).length,
    time: cases.reduce((t, c) => t + (Number.isFinite(c.timeSec) && c.timeSec > 0 ? c.timeSec : 0), 0),
  };
}

export function writeJUnit(report: JUnitReport): string {
  const all = report.suites.flatMap((s) => s.cases);
  const t = counts(all);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    // skipped counts go on each <testsuite> only: the Jenkins junit-10 schema has no skipped on <testsuites>
    `<testsuites${report.name !== undefined ? ` name="${xmlAttr(report.name)}"` : ''} tests="${t.tests}" failures="${t.failures}" errors="0" time="${secs(t.time)}">`,
  );
  for (const s of report.suites) {
    const c = counts(s.cases);
    out.push(
      `  <testsuite name="${xmlAttr(s.name)}" tests="${c.tests}" failures="${c.failures}" errors="0" skipped="${c.skipped}" time="${secs(c.time)}"${s.timestamp ? ` timestamp="${xmlAttr(s.timestamp)}"` : ''}${s.hostname !== undefined ? ` hostname="${xmlAttr(s.hostname)}"` : ''}>`,
    );
    for (const k of s.cases) {
      const head = `    <testcase name="${xmlAttr(k.name)}" classname="${xmlAttr(k.classname)}" time="${secs(k.timeSec)}"`;
      if (k.failure) {
        out.push(`${head}>`);
        out.push(
          `      <failure message="${xmlAttr(k.failure.message)}"${k.failure.type ? ` type="${xmlAttr(k.failure.type)}"` : ''}>${xmlText(k.failure.text)}</failure>`,
        );
        out.push('    </testcase>');
      } else if (k.skipped) {
        out.push(`${head}>`);
        out.push(`      <skipped message="${xmlAttr(k.skipped.message)}"/>`);
        out.push('    </testcase>');
      } else out.push(`${head}/>`);
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
