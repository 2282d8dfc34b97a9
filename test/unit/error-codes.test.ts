/**
 * The error codes: every code raised in src/ with a literal (inputError('BAD_SIZE', …), new
 * InstallGuestError('host', 'X', …), a subclass's super('host', 'X', …)) or through a typed union
 * of literals (CODE_TYPES) is in ERROR_CODES with the class it is raised with, nothing else is
 * there, and README.md's list is generated from the table. Codes taken at run time from a plain
 * string (an assignability reason's code, a reset step's) are not covered.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ERROR_CODES, type ErrorKind } from '../../src/error-codes.js';
import { EXIT, hostError, inputError } from '../../src/errors.js';
import { UPDATE_GOLDEN } from '../helpers/golden.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** Codes raised from a typed union of literals (pci/prepare.ts's host guards), with their class. */
const CODE_TYPES: Record<string, ErrorKind> = { GuardCode: 'host', ReadFileCode: 'input' };
const HELPERS: Record<string, ErrorKind> = {
  inputError: 'input',
  hostError: 'host',
  guestError: 'guest',
  timeoutError: 'timeout',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** code → the classes it is raised with, from the literal codes in src/. */
function raisedCodes(): Map<string, Set<ErrorKind>> {
  const found = new Map<string, Set<ErrorKind>>();
  const add = (code: string, kind: ErrorKind) => (found.get(code) ?? found.set(code, new Set()).get(code)!).add(kind);
  // `cond ? 'A' : 'B'` raises both
  const literals = (n: ts.Expression): string[] =>
    ts.isStringLiteral(n)
      ? [n.text]
      : ts.isConditionalExpression(n)
        ? [...literals(n.whenTrue), ...literals(n.whenFalse)]
        : ts.isParenthesizedExpression(n)
          ? literals(n.expression)
          : [];
  for (const file of sourceFiles(path.join(ROOT, 'src'))) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      if (ts.isCallExpression(n) && ts.isIdentifier(n.expression) && HELPERS[n.expression.text] && n.arguments[0])
        for (const c of literals(n.arguments[0])) add(c, HELPERS[n.expression.text]!);
      const withKind =
        (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'InstallGuestError') ||
        (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.SuperKeyword);
      if (withKind) {
        const [kind, code] = n.arguments ?? [];
        if (kind && code && ts.isStringLiteral(kind))
          for (const c of literals(code)) add(c, kind.text as ErrorKind);
      }
      if (ts.isTypeAliasDeclaration(n) && CODE_TYPES[n.name.text] && ts.isUnionTypeNode(n.type))
        for (const t of n.type.types)
          if (ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal)) add(t.literal.text, CODE_TYPES[n.name.text]!);
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return found;
}

const EXIT_OF: Record<Exclude<ErrorKind, 'internal'>, { exit: number; meaning: string }> = {
  guest: { exit: EXIT.GUEST_FAILED, meaning: 'failed in the guest' },
  input: { exit: EXIT.BAD_INPUT, meaning: 'bad input' },
  host: { exit: EXIT.HOST_CANNOT, meaning: 'the host cannot' },
  timeout: { exit: EXIT.TIMEOUT, meaning: 'timed out' },
  interrupted: { exit: EXIT.INTERRUPTED, meaning: 'interrupted' },
};

/** README.md's list: one paragraph per exit code, the codes in order. */
function codeList(): string {
  const byKind = new Map<string, string[]>();
  for (const [code, kinds] of Object.entries(ERROR_CODES))
    for (const k of kinds as readonly ErrorKind[]) (byKind.get(k) ?? byKind.set(k, []).get(k)!).push(code);
  return Object.entries(EXIT_OF)
    .sort(([, a], [, b]) => a.exit - b.exit)
    .filter(([k]) => byKind.has(k))
    .map(([k, { exit, meaning }]) => `- **${exit}** (${meaning}): ${byKind.get(k)!.sort().map((c) => `\`${c}\``).join(', ')}`)
    .join('\n');
}

describe('error codes', () => {
  it('lists every code raised in src/ with the class it is raised with, and nothing else', () => {
    const raised = raisedCodes();
    expect(raised.size).to.be.greaterThan(100);
    const table = Object.fromEntries(Object.entries(ERROR_CODES).map(([c, k]) => [c, [...k].sort()]));
    const found = Object.fromEntries([...raised].map(([c, k]) => [c, [...k].sort()]));
    expect(found).to.deep.equal(table);
  });

  it('is what the helpers carry (the class decides the exit code)', () => {
    expect(inputError('BAD_SIZE', 'x').exitCode).to.equal(EXIT.BAD_INPUT);
    expect(hostError('HOSTDEV_NOT_FOUND', 'x').exitCode).to.equal(EXIT.HOST_CANNOT);
    // @ts-expect-error a literal code that is not in ERROR_CODES does not compile
    expect(inputError('NO_SUCH_CODE', 'x').code).to.equal('NO_SUCH_CODE');
    // @ts-expect-error a host code raised as bad input does not compile
    expect(inputError('QMP_DISCONNECTED', 'x').code).to.equal('QMP_DISCONNECTED');
  });

  it("README.md's list of codes is generated from ERROR_CODES", () => {
    const file = path.join(ROOT, 'README.md');
    const text = readFileSync(file, 'utf8');
    const m = /(<!-- error-codes: generated[^\n]*-->\n)([\s\S]*?)(<!-- error-codes: end -->)/.exec(text);
    expect(m, 'README.md has the generated section').to.not.equal(null);
    const want = `${codeList()}\n`;
    if (UPDATE_GOLDEN) {
      writeFileSync(file, text.replace(m![0], `${m![1]}${want}${m![3]}`));
      return;
    }
    expect(m![2], 'run UPDATE_GOLDEN=1 npx mocha test/unit/error-codes.test.ts').to.equal(want);
  });
});
