/**
 * The batch manifest: YAML or JSON text (one parser: `yaml`, which also reads JSON) checked against
 * templates/batch/manifest.schema.json with ajv (JSON Schema 2020-12, every error at once). Each
 * error is named by its manifest path and line, e.g. `guests[3].hostdev (line 17): …`, so a
 * manifest with ten mistakes is fixed in one round. Pure apart from reading the shipped schema.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { LineCounter, isMap, isPair, isScalar, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { templatesDir } from '../paths.js';

/** One mistake in a manifest: where (path, line, column) and what. */
export interface ManifestError {
  /** the manifest path, e.g. `guests[3].hostdev`; '' for the whole document */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

export type Scalar = string | number | boolean;

/** a device request as written: a --hostdev string or { pool } */
export type HostdevSpec = string | { pool: string | { vendorDevice: string } };

/** The install options a manifest may set (the schema's `optionProperties`), kebab-case as on the CLI. */
export interface ManifestOptions {
  memory?: string | number;
  vcpus?: string | number;
  cpu?: string;
  machine?: string;
  accel?: 'kvm' | 'tcg' | 'auto';
  disk?: string | string[];
  location?: string;
  cdrom?: string;
  import?: boolean;
  boot?: string;
  'extra-args'?: string;
  'initrd-inject'?: string | string[];
  'os-variant'?: string;
  network?: string;
  graphics?: string;
  noreboot?: boolean;
  wait?: string | number;
  'on-error'?: 'cleanup' | 'keep';
  'qemu-binary'?: string;
  hostdev?: HostdevSpec | HostdevSpec[];
  vars?: Record<string, Scalar>;
}

export interface ManifestGuest extends ManifestOptions {
  name: string;
}

export interface PoolFilter {
  vendorDevice?: string | string[];
  class?: string;
  addresses?: string[];
}

/** a host as written: a libvirt URI or `local`, or { uri, name, concurrency } */
export type ManifestHost = string | { uri: string; name?: string; concurrency?: number; force?: boolean };

export interface Manifest {
  version?: 1;
  name?: string;
  hosts?: ManifestHost[];
  defaults?: ManifestOptions;
  pools?: Record<string, PoolFilter>;
  guests: ManifestGuest[];
}

/** The parsed manifest with what is needed to name lines in later (semantic) errors. */
export interface LoadedManifest {
  manifest: Manifest;
  /** the line (and column) of a manifest path, or undefined when the path is not in the text */
  locate(
    pathParts: readonly (string | number)[],
    key?: boolean,
  ): { line: number; column: number } | undefined;
}

export const MANIFEST_SCHEMA_FILE = (): string => path.join(templatesDir(), 'batch', 'manifest.schema.json');

let validator: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (validator) return validator;
  const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true, allowUnionTypes: true });
  // an annotation: the human message used when the schema's pattern does not match
  ajv.addKeyword({ keyword: 'x-message', schemaType: 'string' });
  const schema = JSON.parse(readFileSync(MANIFEST_SCHEMA_FILE(), 'utf8')) as object;
  return (validator = ajv.compile(schema));
}

/** `['guests', 3, 'hostdev']` → `guests[3].hostdev` */
export function formatPath(parts: readonly (string | number)[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/** `/guests/3/hostdev` (a JSON pointer) → `['guests', 3, 'hostdev']` */
export function pointerParts(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

/** `guests[3].hostdev (line 17): message` */
export function formatManifestError(e: ManifestError): string {
  const where = e.path || '(manifest)';
  return `${where}${e.line !== undefined ? ` (line ${e.line})` : ''}: ${e.message}`;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `'${v.length > 60 ? `${v.slice(0, 57)}...` : v}'`;
  return `${typeof v} ${JSON.stringify(v) ?? typeof v}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

/** ajv's error → a sentence a person fixes a manifest with; null for errors that only repeat others. */
function humanMessage(e: ErrorObject): { message: string; extraPart?: string } | null {
  const p = e.params as Record<string, unknown>;
  const xMessage = e.parentSchema?.['x-message'];
  switch (e.keyword) {
    case 'if': // the then/else branch's own errors are reported
    case 'propertyNames': // its pattern error (below) names the key
      return null;
    case 'type': {
      const types = ([] as string[]).concat(p.type as string | string[]);
      return {
        message: `must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}, found ${describeValue(e.data)}`,
      };
    }
    case 'additionalProperties':
      return {
        message: `unknown key '${String(p.additionalProperty)}'`,
        extraPart: String(p.additionalProperty),
      };
    case 'unevaluatedProperties':
      return {
        message: `unknown key '${String(p.unevaluatedProperty)}'`,
        extraPart: String(p.unevaluatedProperty),
      };
    case 'required':
      return { message: `missing required key '${String(p.missingProperty)}'` };
    case 'enum':
      return {
        message: `must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}, found ${describeValue(e.data)}`,
      };
    case 'const':
      return { message: `must be ${JSON.stringify(p.allowedValue)}, found ${describeValue(e.data)}` };
    case 'pattern':
      if (e.propertyName !== undefined)
        return {
          message: `${typeof xMessage === 'string' ? xMessage : `must match ${String(p.pattern)}`}, found key '${e.propertyName}'`,
          extraPart: e.propertyName,
        };
      return {
        message: `${typeof xMessage === 'string' ? xMessage : `must match ${String(p.pattern)}`}, found ${describeValue(e.data)}`,
      };
    case 'minimum':
      return { message: `must be at least ${String(p.limit)}, found ${describeValue(e.data)}` };
    case 'maximum':
      return { message: `must be at most ${String(p.limit)}, found ${describeValue(e.data)}` };
    case 'minItems':
      return { message: `must have at least ${String(p.limit)} item(s)` };
    case 'minProperties':
      return { message: 'must not be empty' };
    case 'minLength':
      return { message: 'must not be empty' };
    case 'maxLength':
      return { message: `must be at most ${String(p.limit)} characters, found ${String(e.data).length}` };
    default:
      return { message: e.message ?? e.keyword };
  }
}

function locator(doc: Document, lines: LineCounter): LoadedManifest['locate'] {
  return (parts, key = false) => {
    let node: unknown = doc.contents;
    let keyNode: unknown;
    for (const part of parts) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === part);
        if (!pair) return undefined;
        keyNode = pair.key;
        node = pair.value;
      } else if (node && typeof node === 'object' && 'items' in node && typeof part === 'number') {
        node = (node as { items: unknown[] }).items[part];
        keyNode = undefined;
      } else return undefined;
    }
    const target = (key && keyNode ? keyNode : (node ?? keyNode)) as YamlNode | undefined;
    const offset = target?.range?.[0];
    if (offset === undefined) return undefined;
    const pos = lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
}

/**
 * Parses and schema-checks a manifest. Returns every error found (syntax errors first); the
 * manifest is returned only when there are none.
 */
export function parseManifest(text: string): {
  loaded?: LoadedManifest;
  errors: ManifestError[];
  /** present even when the schema check failed, for further checks of the parts that are valid */
  partial?: LoadedManifest;
} {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return {
          path: '',
          line: pos.line,
          column: pos.col,
          message: `YAML: ${e.message.replace(/ at line \d+, column \d+.*$/s, '')}`,
        };
      }),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (e) {
    // the yaml library stops an alias bomb (billion laughs) with a ReferenceError
    const message = e instanceof Error ? e.message : String(e);
    if (!/alias/i.test(message)) throw e;
    return {
      errors: [
        {
          path: '',
          message: 'YAML: too many alias expansions (more than 100 per alias; an alias bomb?)',
        },
      ],
    };
  }
  const locate = locator(doc, lines);
  const validate = schemaValidator();
  const errors: ManifestError[] = [];
  const seen = new Set<string>();
  if (!validate(value)) {
    for (const e of validate.errors ?? []) {
      const h = humanMessage(e);
      if (!h) continue;
      const parts = pointerParts(e.instancePath);
      const at = h.extraPart !== undefined ? [...parts, h.extraPart] : parts;
      const pos = locate(at, h.extraPart !== undefined) ?? locate(parts);
      const err: ManifestError = {
        path: formatPath(at),
        ...(pos ? { line: pos.line, column: pos.column } : {}),
        message: h.message,
      };
      const k = `${err.path}\0${err.message}`;
      if (seen.has(k)) continue;
      seen.add(k);
      errors.push(err);
    }
  }
  const loaded: LoadedManifest = { manifest: value as Manifest, locate };
  return errors.length ? { errors, partial: loaded } : { loaded, errors };
}
