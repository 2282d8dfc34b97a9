/**
 * What the interactive install wizard needs from the rest of install-guest, as injectable functions:
 * the prompt library (@inquirer/prompts in production, a scripted fake in tests), the device list
 * (the same function `hostdev list` uses), media inspection and kickstart lint. Nothing here touches
 * the host; the wizard only reads until the final confirm.
 */
import type { Output } from '../command-context.js';
import type { Finding } from '../kickstart/lint.js';
import type { Assessment, Reason } from '../pci/assignability.js';
import type { RawInstallArgs } from '../request/request.js';

/** Whether a host PCI function can be given to a guest, as `hostdev list` reports it. */
export type Verdict = Assessment['verdict'];

/** One network function of the host with its `hostdev list` verdict. */
export interface DeviceChoice {
  /** canonical PCI address, e.g. 0000:05:00.0 */
  address: string;
  /** as `hostdev show auto` describes a candidate: `0000:05:00.0 Ethernet controller [8086:1533] driver=igb enp5s0` */
  label: string;
  /** e.g. `Ethernet controller` */
  className: string;
  verdict: Verdict;
  /** the verdict's reasons that are not informational, as `hostdev list --json` gives them */
  reasons: Pick<Reason, 'code' | 'severity' | 'message'>[];
  /** the MAC of its first interface (the kickstart must configure it), when it has one */
  mac?: string;
}

/** What `media inspect` found in an install tree or ISO. */
export interface MediaFacts {
  /** e.g. `Fedora 39` */
  name: string;
  family: string;
  version: string | null;
  arch: string;
  /** the lines `media inspect` prints */
  lines: string[];
}

/** A `kickstart lint` finding (line and file as the user wrote them). */
export type LintFinding = Finding;

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
   * What an install tree / ISO holds, as `media inspect` finds it (`location` is absolute or a URL).
   * Rejects with the typed error `media inspect` exits with (MEDIA_NOT_RECOGNISED, MEDIA_NOT_FOUND, …).
   */
  inspectMedia(location: string): Promise<MediaFacts>;
  /**
   * `kickstart lint` of a file, as the install lints it (headless; the assigned NIC when one is
   * given). Errors block, warnings are shown; rejects with a typed error for an unreadable %include.
   */
  lintKickstart(file: string, options: { assignedNic?: { mac: string } }): Promise<LintFinding[]>;
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

/** What tests may replace on CliDeps.wizard; the rest comes from the command line and the host. */
export type WizardOverrides = Partial<
  Pick<WizardDeps, 'prompts' | 'listDevices' | 'inspectMedia' | 'lintKickstart'>
>;
