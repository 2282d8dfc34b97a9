/** `kickstart lint` on a file: includes resolved, findings mapped back to the file and line written. */
import path from 'node:path';
import type { Finding, LintOptions } from './lint.js';

/** What `kickstart lint` finds in a file: includes resolved, findings mapped to the file and line written. */
export async function lintFile(
  file: string,
  options: LintOptions = {},
): Promise<{ findings: Finding[]; errors: number; warnings: number }> {
  const { lintKickstart, countBySeverity } = await import('./lint.js');
  const { resolveIncludes, mapFindings } = await import('./user-kickstart.js');
  const resolved = await resolveIncludes(file);
  const findings = mapFindings(lintKickstart(resolved.text, options), resolved.origins);
  return { findings, ...countBySeverity(findings) };
}

/** One finding as `kickstart lint` prints it: `FILE:LINE: SEVERITY CODE: MESSAGE`. */
export function findingLine(f: Finding, cwd: string, target: string): string {
  const where = f.file ? path.relative(cwd, f.file) || f.file : target;
  return `${where}:${f.line}: ${f.severity} ${f.code}: ${f.message}`;
}
