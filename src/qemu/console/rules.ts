/**
 * Console rules: validates the rule packs (src/qemu/rules) and compiles them into the regular
 * expressions the matcher runs; `rulesFor` gives an installer family's packs, compiled once.
 */
import { inputError } from '../../errors.js';
import { RULE_PACKS } from '../rules/index.js';
import type { CollectSpec, InstallerFamily, RuleKind, RulePack } from '../rules/types.js';

export interface CompiledRule {
  id: string;
  kind: RuleKind;
  pack: InstallerFamily;
  re: RegExp;
  message: string;
  hint: string | undefined;
  collect: (CollectSpec & { re?: RegExp }) | undefined;
}

export const GROUP_REF = /\{(\w+)\}/g;
/** in a fatal rule's message (unless the pattern has a group of that name): the progress text shown last */
export const PROGRESS_REF = 'progress';

/** Validates and compiles rule packs, in order. Throws inputError BAD_CONSOLE_RULE naming the rule. */
export function compileRules(packs: readonly RulePack[]): CompiledRule[] {
  const seen = new Set<string>();
  const out: CompiledRule[] = [];
  for (const pack of packs) {
    for (const r of pack.rules) {
      const bad = (why: string): never => {
        throw inputError('BAD_CONSOLE_RULE', `console rule ${pack.family}/${r.id} is invalid: ${why}`, {
          hint: 'fix the rule in src/qemu/rules/',
          data: { pack: pack.family, rule: r.id },
        });
      };
      if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(r.id)) bad('the id must be kebab-case');
      if (seen.has(r.id)) bad('the id is used twice');
      seen.add(r.id);
      const flags = r.flags ?? '';
      if (!/^i?$/.test(flags)) bad(`flags must be '' or 'i', found '${flags}'`);
      let re: RegExp;
      try {
        re = new RegExp(r.pattern, flags);
      } catch (e) {
        return bad(`the pattern does not compile: ${(e as Error).message}`);
      }
      const groups = new Set([...r.pattern.matchAll(/\(\?<(\w+)>/g)].map((m) => m[1]));
      for (const m of r.message.matchAll(GROUP_REF)) {
        if (m[1] === PROGRESS_REF && r.kind === 'fatal' && !groups.has(PROGRESS_REF)) continue;
        if (!groups.has(m[1])) bad(`the message uses {${m[1]}} but the pattern has no such named group`);
      }
      if (r.collect && r.kind !== 'fatal') bad('only fatal rules may collect');
      let collect: CompiledRule['collect'];
      if (r.collect) {
        if (r.collect.mode === 'line') {
          try {
            collect = { ...r.collect, re: new RegExp(r.collect.pattern, flags) };
          } catch (e) {
            return bad(`the collect pattern does not compile: ${(e as Error).message}`);
          }
        } else {
          collect = { ...r.collect };
        }
      }
      if (r.examples.length === 0 && r.kind !== 'ignore') bad('a rule needs at least one real example line');
      out.push({ id: r.id, kind: r.kind, pack: pack.family, re, message: r.message, hint: r.hint, collect });
    }
  }
  return out;
}

const compiledCache = new Map<InstallerFamily, CompiledRule[]>();

/** The rules for one installer family: its own pack, then generic-linux (kernel, dracut, systemd). */
export function rulesFor(family: InstallerFamily): CompiledRule[] {
  let rules = compiledCache.get(family);
  if (!rules) {
    const packs =
      family === 'generic-linux'
        ? [RULE_PACKS['generic-linux']]
        : [RULE_PACKS[family], RULE_PACKS['generic-linux']];
    rules = compileRules(packs);
    compiledCache.set(family, rules);
  }
  return rules;
}
