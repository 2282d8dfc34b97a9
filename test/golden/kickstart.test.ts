/**
 * Golden answer files: one folder per case under fixtures/kickstarts/<template>-<variant>/ with
 * vars.json and the expected rendering (expected.ks / expected.preseed) and its redacted copy
 * (expected.redacted.*). All cases are discovered; `UPDATE_GOLDEN=1 npx mocha` rewrites them (read
 * the diff like code). Besides the text, each case checks meaning: lint-clean, the assigned NIC
 * configured, no secret in the redacted copy, no plain password anywhere.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sequentialIds } from '../../src/host/host.js';
import { lintKickstart } from '../../src/kickstart/lint.js';
import { userSetupQuestions } from '../../src/kickstart/preseed-check.js';
import { builtinTemplates, renderKickstart } from '../../src/kickstart/render.js';

const CASES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/kickstarts');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const cases = readdirSync(CASES_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

async function compare(file: string, actual: string): Promise<void> {
  if (UPDATE) {
    await writeFile(file, actual);
    return;
  }
  let expected: string;
  try {
    expected = await readFile(file, 'utf8');
  } catch {
    throw new Error(
      `golden file ${path.relative(process.cwd(), file)} is missing; run with UPDATE_GOLDEN=1 and review it`,
    );
  }
  expect(actual, path.basename(file)).to.equal(expected);
}

function plainSecrets(vars: Record<string, unknown>, caseDir: string): string[] {
  const out: string[] = [];
  if (typeof vars.rootPassword === 'string') out.push(vars.rootPassword);
  if (typeof vars.rootPasswordFile === 'string') {
    out.push(readFileSync(path.join(caseDir, vars.rootPasswordFile), 'utf8').split('\n')[0]!);
  }
  const user = vars.user as { password?: string } | undefined;
  if (user?.password) out.push(user.password);
  return out;
}

describe('golden: kickstarts', () => {
  it('has at least one case per built-in template, and only cases named after one', () => {
    const templates = builtinTemplates().map((t) => t.name);
    for (const t of templates)
      expect(
        cases.some((c) => c.startsWith(`${t}-`)),
        `a case for ${t}`,
      ).to.equal(true);
    for (const c of cases) expect(templates, c).to.include(c.split('-')[0]);
  });

  for (const name of cases) {
    it(`renders ${name}`, async () => {
      const caseDir = path.join(CASES_DIR, name);
      const vars = JSON.parse(await readFile(path.join(caseDir, 'vars.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      const template = name.split('-')[0]!;
      const r = await renderKickstart(template, vars, { ids: sequentialIds(1), cwd: caseDir });
      const ext = r.template.family === 'preseed' ? 'preseed' : 'ks';
      await compare(path.join(caseDir, `expected.${ext}`), r.text);
      await compare(path.join(caseDir, `expected.redacted.${ext}`), r.redacted);

      // meaning, beyond the text
      for (const secret of plainSecrets(vars, caseDir)) {
        expect(r.text).to.not.include(secret);
        expect(r.redacted).to.not.include(secret);
      }
      expect(r.redacted).to.not.match(/\$6\$/);
      const nic = vars.nic as { mac: string } | undefined;
      if (r.template.family === 'kickstart') {
        const findings = lintKickstart(r.text, { headless: true, ...(nic ? { assignedNic: nic } : {}) });
        expect(
          findings.filter((f) => f.severity === 'error'),
          JSON.stringify(findings),
        ).to.deep.equal([]);
        if (nic) expect(r.text).to.match(new RegExp(`^network --device=${nic.mac} `, 'm'));
        expect(r.text.includes('%post'), 'confirmation unit present iff confirmUnit').to.equal(
          vars.confirmUnit !== false,
        );
      } else {
        if (nic) expect(r.text).to.match(new RegExp(`^d-i netcfg/choose_interface select ${nic.mac}$`, 'm'));
        expect(userSetupQuestions(r.text), 'user-setup questions left for d-i to ask').to.deep.equal([]);
        expect(r.text.includes('late_command'), 'confirmation unit present iff confirmUnit').to.equal(
          vars.confirmUnit !== false,
        );
      }
    });
  }
});
