/**
 * Handlebars environments for the shipped templates (templates/qemu, templates/libvirt), compiled
 * once at build time when that is safe.
 *
 * The build (esbuild.config.mjs) precompiles every templates/**\/*.hbs into
 * dist/templates.precompiled.cjs, each spec stored beside the exact source text it came from. An
 * environment is made for a set of template files: when every file still has the text its spec was
 * compiled from, the set runs on handlebars' small runtime (no parser, no code generator: a CLI that
 * renders one argv does not pay for the compiler at start-up); when any file differs (an edited
 * template, or a checkout that was never built), the whole set is compiled from its sources with the
 * full compiler, loaded only then. Both paths use the same compile options, so they render the same
 * text (test/unit/template-engine.test.ts renders every shipped template both ways).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type HandlebarsTypes from 'handlebars';
import runtimeModule from 'handlebars/runtime.js';
import { packageRoot, templatesDir } from './paths.js';

/** The compile options of every shipped template: output is argv lines or XML, escaped by helpers. */
export const COMPILE_OPTIONS = { noEscape: true, strict: true } as const;

export type Render = (data: unknown) => string;

// handlebars ships no types for its runtime entry; the runtime is the full build minus the compiler
type Engine = typeof HandlebarsTypes;
const HandlebarsRuntime = runtimeModule as unknown as Engine;
type HelperFn = Handlebars.HelperDelegate;

interface PrecompiledEntry {
  source: string;
  spec: object;
}

/** One file of a set: its path under templates/, and the partial name it is registered as (if any). */
export interface TemplateFile {
  file: string;
  partial?: string;
}

export interface EnvironmentOptions {
  helpers: Record<string, HelperFn>;
  files: readonly TemplateFile[];
  /** false: always compile from source (tests compare both paths); default: use the build's specs when current */
  precompiled?: boolean;
  /** where the files are read from (default templates/ at the package root); specs are keyed by `file` */
  dir?: string;
}

export interface Environment {
  /** 'precompiled' when the set runs from the build's specs, 'compiled' when it was compiled from source */
  mode: 'precompiled' | 'compiled';
  template(file: string): Render;
}

// not named `require`: the bundler would inline the full compiler, which only the fallback needs
const loadCommonJs = createRequire(import.meta.url);
let precompiledTable: Record<string, PrecompiledEntry> | null | undefined;

export function precompiledPath(): string {
  return path.join(packageRoot(), 'dist', 'templates.precompiled.cjs');
}

function precompiled(): Record<string, PrecompiledEntry> | null {
  if (precompiledTable !== undefined) return precompiledTable;
  const file = precompiledPath();
  precompiledTable = existsSync(file) ? (loadCommonJs(file) as Record<string, PrecompiledEntry>) : null;
  return precompiledTable;
}

export function createEnvironment(opts: EnvironmentOptions): Environment {
  const sources = new Map(
    opts.files.map(
      (f) => [f.file, readFileSync(path.join(opts.dir ?? templatesDir(), f.file), 'utf8')] as const,
    ),
  );
  const table = opts.precompiled === false ? null : precompiled();
  const current = table !== null && [...sources].every(([file, text]) => table[file]?.source === text);

  const engine: Engine = current
    ? HandlebarsRuntime.create()
    : (loadCommonJs('handlebars') as { create(): Engine }).create();
  for (const [name, fn] of Object.entries(opts.helpers)) engine.registerHelper(name, fn);

  const templates = new Map<string, Render>();
  for (const f of opts.files) {
    // the runtime's types are the full compiler's: `compile` is only reached on an engine made from 'handlebars'
    const render: Render = current
      ? engine.template(table[f.file]!.spec)
      : engine.compile(sources.get(f.file)!, COMPILE_OPTIONS);
    templates.set(f.file, render);
    if (f.partial) engine.registerPartial(f.partial, render);
  }
  return {
    mode: current ? 'precompiled' : 'compiled',
    template(file: string): Render {
      const t = templates.get(file);
      if (!t) throw new Error(`template ${file} is not in this environment`);
      return t;
    },
  };
}
