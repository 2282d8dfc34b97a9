/**
 * Golden files: `golden(file, actual)` compares `actual` with the file's text, or with
 * UPDATE_GOLDEN=1 (re)writes the file instead; read the diff of a rewrite like code.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === '1';

export function golden(file: string, actual: string): void {
  if (UPDATE_GOLDEN) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  expect(existsSync(file), `${file} is missing: run UPDATE_GOLDEN=1 npm test and review it`).to.equal(true);
  expect(actual, path.relative(process.cwd(), file)).to.equal(readFileSync(file, 'utf8'));
}
