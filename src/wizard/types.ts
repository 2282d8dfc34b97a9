/**
 * What the interactive install wizard needs from the rest of install-guest, as injectable functions:
 * the prompt library (@inquirer/prompts in production, a scripted fake in tests), the device list
 * (the same function `hostdev list` uses), media inspection and kickstart lint. Nothing here touches
 * the host; the wizard only reads until the final confirm.
 */
import type { Output } from '../cli/command.js';
import type { RawInstallArgs } from '../request/request.js';

/** Whether a host PCI function can be given to a guest, as `hostdev list` reports it. */
export type Verdict = 'assignable' | 'warnings' | 'not-assignable';

export interface DeviceChoice {
  /** canonical PCI address, e.g. 0000:03:00.0 */
  address: string;
  /** lspci-like, e.g. `Intel 82574L Gigabit (8086:10d3) enp3s0` */
  label: string;
  /** e.g. `Ethernet controller` */
  className: string;
  verdict: Verdict;
  /** why not assignable, or the warnings, in one line */
  reason?: string;
}

/** What `media inspect` found in an install tree or ISO. */
export interface MediaFacts {
  family: string;
  version: string;
  arch: string;
  kernel: string;
  initrd: string;
}

export interface LintFinding {
  /** 1-based line in the kickstart file; 0 when the finding is about the whole file */
  line: number;
  severity: 'error' | 'warning';
  message: string;
}

/** A choice of a select prompt; `disabled` with a string shows the entry greyed with that reason. */
export interface PromptChoice<V> {
  value: V;
  name: string;
  description?: string;
  short?: string;
  disabled?: boolean | string;
}

/** @inquirer's separator shape (`Separator.isSeparator` checks `type`). */
export interface PromptSeparator {
  type: 'separator';
  separator: string;
}

export interface PromptContext {
  signal?: AbortSignal;
}

type Validate<T> = (value: T) => boolean | string | Promise<boolean | string>;

/**
 * The subset of @inquirer/prompts (v7) the wizard uses. The real `{ select, input, confirm, number }`
 * satisfy it; tests pass a scripted fake. Ctrl-C makes a prompt reject with an `ExitPromptError`.
 */
export interface WizardPrompts {
  select<V>(
    config: {
      message: string;
      choices: readonly (PromptChoice<V> | PromptSeparator)[];
      default?: V;
      pageSize?: number;
      loop?: boolean;
    },
    context?: PromptContext,
  ): Promise<V>;
  input(
    config: { message: string; default?: string; required?: boolean; validate?: Validate<string> },
    context?: PromptContext,
  ): Promise<string>;
  confirm(config: { message: string; default?: boolean }, context?: PromptContext): Promise<boolean>;
  number(
    config: {
      message: string;
      default?: number;
      min?: number;
      max?: number;
      step?: number;
      required: true;
      validate?: Validate<number>;
    },
    context?: PromptContext,
  ): Promise<number>;
}

export interface WizardDeps {
  prompts: WizardPrompts;
  /** the host's network functions with verdicts: the same code path as `hostdev list` */
  listDevices(): Promise<DeviceChoice[]>;
  /**
   * What an install tree / ISO holds. Resolves with the facts, or with (or rejects with) an error for
   * media that is not recognised; an error with code NOT_IMPLEMENTED means "cannot check in this build".
   */
  inspectMedia(location: string): Promise<MediaFacts | Error>;
  /** Findings for a kickstart file; errors block, warnings are shown. May reject with NOT_IMPLEMENTED. */
  lintKickstart(path: string): Promise<LintFinding[]>;
  /** where the wizard prints what it found and the summary */
  stdout: Output;
  /** relative paths typed by the user are resolved against this directory */
  cwd: string;
  /** options given on the command line: defaults for the questions, carried into the result */
  initial?: RawInstallArgs;
  /** global options repeated in the printed command line (they are not install options) */
  globals?: { hostRoot?: string };
  /** aborts the open prompt (SIGTERM while asking) */
  signal?: AbortSignal;
}
