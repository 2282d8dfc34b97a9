/**
 * Renders kickstarts and preseeds from Handlebars templates (kickstarts/*.hbs) with an isolated
 * Handlebars instance (`noEscape`, `strict`). Variables are validated first (vars.ts); passwords
 * are hashed here (SHA-512-crypt) so a plain password never reaches the answer file, a log or an
 * argv. The result carries a redacted copy for the log directory.
 */
import Handlebars from 'handlebars';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { readRegularFile } from './read-file.js';
import path from 'node:path';
import { inputError } from '../errors.js';
import type { IdSource } from '../host/host.js';
import { randomIds } from '../host/host.js';
import { confirmScript } from './confirm.js';
import { kickstartsDir } from '../paths.js';
import { redactSecrets } from './redact.js';
import { hashPassword, isCryptHash, saltFromBytes } from './sha512-crypt.js';
import type { KickstartVars } from './vars.js';
import { validateVars } from './vars.js';

export type AnswerFamily = 'kickstart' | 'preseed';

export interface TemplateRef {
  /** `fedora`, `debian`, or the file name of a user template */
  name: string;
  path: string;
  family: AnswerFamily;
}

export interface RenderDeps {
  /** salts come from here (sequentialIds in tests make goldens deterministic) */
  ids?: IdSource;
  /** relative password files are resolved against this directory (default: process.cwd()) */
  cwd?: string;
  /** where built-in templates are looked up (default: the package's kickstarts/) */
  templatesDir?: string;
}

export interface RenderedKickstart {
  /** the answer file, to deliver to the installer (contains password hashes: keep it private) */
  text: string;
  /** the same text with every password or hash replaced by `<redacted>`, for the log directory */
  redacted: string;
  template: TemplateRef;
  /** the file name installers look for: ks.cfg or preseed.cfg */
  fileName: string;
}

export const DEFAULT_TEMPLATE = 'fedora';

/** The file name an installer looks for in an initrd or on an OEMDRV volume. */
export function answerFileName(family: AnswerFamily): string {
  return family === 'preseed' ? 'preseed.cfg' : 'ks.cfg';
}

function familyOf(file: string): AnswerFamily {
  return /\.preseed(\.hbs)?$|preseed\.cfg$/.test(path.basename(file)) ? 'preseed' : 'kickstart';
}

/** Lists the built-in templates (name → file). */
export function builtinTemplates(dir = kickstartsDir()): TemplateRef[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.hbs'))
    .sort()
    .map((f) => ({
      name: f.split('.')[0]!,
      path: path.join(dir, f),
      family: familyOf(f.replace(/\.hbs$/, '')),
    }));
}

/** A template name (`fedora`, `debian`) or a path to a `.hbs` file. */
export function resolveTemplate(nameOrPath: string, deps: RenderDeps = {}): TemplateRef {
  const dir = deps.templatesDir ?? kickstartsDir();
  const looksLikePath = nameOrPath.includes('/') || nameOrPath.endsWith('.hbs');
  if (!looksLikePath) {
    const found = builtinTemplates(dir).find((t) => t.name === nameOrPath);
    if (!found) {
      throw inputError('KICKSTART_TEMPLATE_UNKNOWN', `no kickstart template named ${nameOrPath}`, {
        hint: `built-in templates: ${builtinTemplates(dir)
          .map((t) => t.name)
          .join(', ')}; or give a path to a .hbs file`,
      });
    }
    return found;
  }
  const file = path.resolve(deps.cwd ?? process.cwd(), nameOrPath);
  if (!file.endsWith('.hbs')) {
    throw inputError('KICKSTART_TEMPLATE_NOT_HBS', `kickstart template ${file} is not a .hbs file`, {
      hint: `give a Handlebars template ending in .hbs, or a built-in template name (${builtinTemplates(dir)
        .map((t) => t.name)
        .join(', ')})`,
    });
  }
  return { name: path.basename(file), path: file, family: familyOf(file.replace(/\.hbs$/, '')) };
}

type HB = typeof Handlebars;

/** An isolated Handlebars instance with the shipped partials and the helpers templates use. */
export function makeHandlebars(dir = kickstartsDir()): HB {
  const hb = Handlebars.create();
  const partialsDir = path.join(dir, 'partials');
  for (const f of readdirSync(partialsDir).sort()) {
    if (!f.endsWith('.hbs')) continue;
    const name = f.split('.')[0]!;
    hb.registerPartial(name, hb.compile(readFileSync(path.join(partialsDir, f), 'utf8'), COMPILE));
  }
  // {{#base64}}…{{/base64}}: the block's rendered text, base64-encoded on one line
  hb.registerHelper('base64', function (this: unknown, options: Handlebars.HelperOptions) {
    return Buffer.from(options.fn(this), 'utf8').toString('base64');
  });
  return hb;
}

const COMPILE = { noEscape: true, strict: true } as const;

function templateError(t: TemplateRef, e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  const missing = /"([^"]+)" not defined in/.exec(msg);
  if (missing) {
    return inputError(
      'KICKSTART_TEMPLATE_VARIABLE',
      `template ${t.name} uses variable \`${missing[1]}\`, which is not defined`,
      { hint: 'define it with --set / --vars, or fix the template', cause: e },
    );
  }
  return inputError('KICKSTART_TEMPLATE', `template ${t.name} does not render: ${msg.split('\n')[0]}`, {
    hint: 'check the Handlebars syntax of the template',
    cause: e,
  });
}

/** Renders a template text with a context (strict: a missing variable is an error). */
export function renderTemplateText(
  source: string,
  context: object,
  t: TemplateRef,
  hb = makeHandlebars(),
): string {
  try {
    return hb.compile(source, COMPILE)(context);
  } catch (e) {
    throw templateError(t, e);
  }
}

async function passwordFromFile(file: string, cwd: string, what: string): Promise<string> {
  const full = path.resolve(cwd, file);
  const raw = await readRegularFile(full, `${what}: password file`, {
    code: 'KICKSTART_PASSWORD_FILE',
    hint: 'the file holds one line: a plain password or a crypt hash ($6$…)',
    maxBytes: 64 * 1024,
  });
  const line = raw.split(/\r?\n/)[0] ?? '';
  if (!line) {
    throw inputError(
      'KICKSTART_PASSWORD_FILE',
      `${what}: ${full} is empty; expected a password on its first line`,
      {
        hint: 'write the password (or a $6$ hash) on the first line',
      },
    );
  }
  return line;
}

/** The hash for one password source: a given hash as is, a plain value (or file) hashed here. */
async function resolveHash(
  src: { plain?: string; hash?: string; file?: string },
  what: string,
  ids: IdSource,
  cwd: string,
): Promise<string | undefined> {
  if (src.hash !== undefined) return src.hash;
  let plain = src.plain;
  if (src.file !== undefined) {
    const fromFile = await passwordFromFile(src.file, cwd, what);
    if (isCryptHash(fromFile)) return fromFile;
    plain = fromFile;
  }
  if (plain === undefined) return undefined;
  // the salt is derived from the id source (random in production, a sequence in golden tests)
  return hashPassword(plain, saltFromBytes(createHash('sha256').update(ids.token(16)).digest()));
}

/** The context templates see: the validated variables plus derived values. */
export async function buildContext(
  v: KickstartVars,
  deps: RenderDeps = {},
): Promise<Record<string, unknown>> {
  const ids = deps.ids ?? randomIds;
  const cwd = deps.cwd ?? process.cwd();
  const rootHash = await resolveHash(
    { plain: v.rootPassword, hash: v.rootPasswordHash, file: v.rootPasswordFile },
    'rootPasswordFile',
    ids,
    cwd,
  );
  const user = v.user
    ? {
        name: v.user.name,
        hash: await resolveHash(
          { plain: v.user.password, hash: v.user.passwordHash, file: v.user.passwordFile },
          'user.passwordFile',
          ids,
          cwd,
        ),
        groups: (v.user.groups ?? []).join(','),
        groupsSpaced: (v.user.groups ?? []).join(' '),
        gecos: v.user.gecos ?? '',
        fullname: v.user.gecos ?? v.user.name,
      }
    : undefined;
  const ns = v.network.bootproto === 'static' ? v.network.nameserver : undefined;
  const nameserverList = ns === undefined ? [] : Array.isArray(ns) ? ns : [ns];
  const dot = v.hostname.indexOf('.');
  // never hand the plain or file-sourced secrets to the template
  const { rootPassword: _rp, rootPasswordHash: _rh, rootPasswordFile: _rf, user: _u, ...plainVars } = v;
  return {
    ...plainVars,
    ...(user ? { user } : {}),
    root: rootHash ? { hash: rootHash } : { locked: true },
    static: v.network.bootproto === 'static',
    nameservers: nameserverList.join(','),
    nameserversSpaced: nameserverList.join(' '),
    explicitParts: v.partitioning === 'part',
    poweroffAtEnd: v.poweroff !== 'reboot',
    domain: dot > 0 ? v.hostname.slice(dot + 1) : '',
    packagesSpaced: v.packages.join(' '),
    confirmScript: confirmScript(),
  };
}

/**
 * Renders a built-in template (by name) or a template file (by path) with `vars` (validated,
 * defaults applied). Returns the text and its redacted copy.
 */
export async function renderKickstart(
  templateNameOrPath: string,
  vars: Record<string, unknown>,
  deps: RenderDeps = {},
): Promise<RenderedKickstart> {
  const t = resolveTemplate(templateNameOrPath, deps);
  const source = await readRegularFile(t.path, 'kickstart template', {
    code: 'KICKSTART_TEMPLATE_UNREADABLE',
    hint: 'give a readable .hbs file or a built-in template name',
  });
  const v = validateVars(vars, t.name);
  const context = await buildContext(v, deps);
  const text = renderTemplateText(source, context, t, makeHandlebars(deps.templatesDir ?? kickstartsDir()));
  return { text, redacted: redactSecrets(text), template: t, fileName: answerFileName(t.family) };
}

let snippetCache: string | undefined;
/** The POSIX sh snippet that installs the confirmation unit (rendered from partials/confirm-install). */
export function confirmInstallSnippet(): string {
  if (snippetCache === undefined) {
    const hb = makeHandlebars();
    snippetCache = hb.compile('{{> confirm-install}}', COMPILE)({ confirmScript: confirmScript() });
  }
  return snippetCache;
}
