/**
 * A scripted stand-in for @inquirer/prompts: each prompt the wizard opens must match the next step of
 * the script (kind and message); the answer is checked the way the real prompt checks it (a select
 * refuses a disabled or missing choice, an input runs `validate`), so a test cannot pass with an
 * answer the terminal would not accept.
 */
import type { PromptChoice, PromptSeparator, WizardPrompts } from '../../../src/wizard/types.js';

export const DEFAULT = Symbol('press Enter: the default');

type Kind = 'select' | 'input' | 'confirm' | 'number';

export interface ScriptStep {
  kind: Kind;
  message: RegExp;
  /** the answer; DEFAULT takes the prompt's default; an Error is thrown (e.g. ctrlC()) */
  answer: unknown;
  /** input only: answers typed first, each of which must be rejected by `validate` */
  rejected?: string[];
}

export interface PromptCall {
  kind: Kind;
  config: {
    message: string;
    default?: unknown;
    choices?: readonly (PromptChoice<unknown> | PromptSeparator)[];
    validate?: (v: never) => unknown;
  };
  /** validation messages for the `rejected` answers, in order */
  rejections: string[];
}

/** What @inquirer/core rejects with on Ctrl-C. */
export function ctrlC(): Error {
  return Object.assign(new Error('User force closed the prompt with SIGINT'), { name: 'ExitPromptError' });
}

export const sel = (message: RegExp, answer: unknown): ScriptStep => ({ kind: 'select', message, answer });
export const inp = (message: RegExp, answer: unknown, rejected?: string[]): ScriptStep => ({
  kind: 'input',
  message,
  answer,
  ...(rejected ? { rejected } : {}),
});
export const yes = (message: RegExp, answer: unknown = true): ScriptStep => ({
  kind: 'confirm',
  message,
  answer,
});
export const num = (message: RegExp, answer: unknown): ScriptStep => ({ kind: 'number', message, answer });

export class ScriptedPrompts {
  readonly calls: PromptCall[] = [];
  private readonly script: ScriptStep[];

  constructor(script: ScriptStep[]) {
    this.script = [...script];
  }

  get remaining(): number {
    return this.script.length;
  }

  call(kind: Kind): PromptCall | undefined {
    return this.calls.find((c) => c.kind === kind);
  }

  find(message: RegExp): PromptCall {
    const c = this.calls.find((x) => message.test(x.config.message));
    if (!c)
      throw new Error(
        `no prompt matching ${String(message)}; asked: ${this.calls.map((x) => x.config.message).join(' | ')}`,
      );
    return c;
  }

  private async next(kind: Kind, config: PromptCall['config']): Promise<unknown> {
    const call: PromptCall = { kind, config, rejections: [] };
    this.calls.push(call);
    const step = this.script.shift();
    if (!step) throw new Error(`unexpected ${kind} prompt '${config.message}': the script has ended`);
    if (step.kind !== kind || !step.message.test(config.message))
      throw new Error(
        `expected a ${step.kind} prompt ${String(step.message)}, got ${kind} '${config.message}'`,
      );
    const validate = config.validate as ((v: unknown) => unknown) | undefined;
    for (const bad of step.rejected ?? []) {
      const r = validate ? await validate(bad) : true;
      if (r === true) throw new Error(`'${bad}' was accepted by '${config.message}', expected a rejection`);
      call.rejections.push(String(r));
    }
    let answer = step.answer;
    if (answer instanceof Error) throw answer;
    // Enter on an input without a default answers ''
    if (answer === DEFAULT) answer = config.default ?? (kind === 'input' ? '' : undefined);
    if (kind === 'select') {
      const choice = config.choices?.find(
        (c): c is PromptChoice<unknown> => 'value' in c && c.value === answer,
      );
      if (!choice) throw new Error(`'${String(answer)}' is not a choice of '${config.message}'`);
      if (choice.disabled)
        throw new Error(`'${String(answer)}' is disabled in '${config.message}': ${String(choice.disabled)}`);
    }
    if (answer === undefined && kind !== 'confirm')
      throw new Error(`no answer and no default for '${config.message}'`);
    if (validate) {
      const r = await validate(answer);
      if (r !== true)
        throw new Error(`answer '${String(answer)}' to '${config.message}' was rejected: ${String(r)}`);
    }
    return answer;
  }

  readonly prompts: WizardPrompts = {
    select: (config) => this.next('select', config) as Promise<never>,
    input: (config) => this.next('input', config) as Promise<string>,
    confirm: (config) => this.next('confirm', config) as Promise<boolean>,
    number: (config) => this.next('number', config) as Promise<number>,
  };
}
