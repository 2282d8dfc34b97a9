/** `kickstart lint` on a file: includes resolved, findings mapped back to the file and line written. */
import path from 'node:path';
import type { Finding, LintOptions } from './lint.js';

/**
 * What `kickstart lint` finds in a file, picked by content: a preseed (d-i answer lines) gets the
 * preseed linter; anything else is a kickstart, includes resolved, findings mapped to the file and
 * line written. Regular files only (a FIFO or /dev/zero is refused, never waited on).
 */
export async function lintFile(
  file: string,
  options: LintOptions = {},
): Promise<{ family: 'kickstart' | 'preseed'; findings: Finding[]; errors: number; warnings: number }> {
  const { lintKickstart, countBySeverity } = await import('./lint.js');
  const { readRegularFile } = await import('./read-file.js');
  const { looksLikePreseed, lintPreseed } = await import('./preseed-lint.js');
  const text = await readRegularFile(file, 'kickstart');
  if (looksLikePreseed(text)) {
    const findings = lintPreseed(text);
    return { family: 'preseed', findings, ...countBySeverity(findings) };
  }
  const { resolveIncludes, mapFindings } = await import('./user-kickstart.js');
  const resolved = await resolveIncludes(file);
  const findings = mapFindings(lintKickstart(resolved.text, options), resolved.origins);
  return { family: 'kickstart', findings, ...countBySeverity(findings) };
}

/** One finding as `kickstart lint` prints it: `FILE:LINE: SEVERITY CODE: MESSAGE`. */
export function findingLine(f: Finding, cwd: string, target: string): string {
  const where = f.file ? path.relative(cwd, f.file) || f.file : target;
  return `${where}:${f.line}: ${f.severity} ${f.code}: ${f.message}`;
}
