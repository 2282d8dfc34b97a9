/**
 * The direction of imports in src/, read from the source with the TypeScript compiler's own import
 * scanner (static, type-only, re-exports and dynamic `import()` alike):
 *
 *   bin → cli → {pipeline, batch, wizard, export} → stages → the stage contract (pipeline/stage.ts,
 *   pipeline/state.ts) → domain (pci, media, kickstart, qemu, request, report) → leaves (host, errors,
 *   error-codes, paths, version, command-context, output-path, template-engine)
 *
 * A module may import its own layer or any layer below it, never one above, and the graph has no
 * cycle. A new folder or top-level module must be given a layer here (and in src/README.md).
 * eslint.config.js repeats the cli/ rule for static imports, so an editor flags it as it is typed.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Layer of a module (path relative to src/, `/`-separated): a module imports only equal or higher ranks. */
const LAYERS: [rank: number, name: string, match: (f: string) => boolean][] = [
  [0, 'bin', (f) => f.startsWith('bin/')],
  [1, 'cli', (f) => f.startsWith('cli/')],
  // before pipeline/: the contract sits between the stages that implement it and the domain
  [4, 'the stage contract', (f) => f === 'pipeline/stage.ts' || f === 'pipeline/state.ts'],
  [
    2,
    'pipeline, batch, wizard, export',
    // export/libvirt.ts is a renderer beside qemu/command.ts (the domain XML of a request): domain
    (f) =>
      f !== 'export/libvirt.ts' && ['pipeline/', 'batch/', 'wizard/', 'export/'].some((d) => f.startsWith(d)),
  ],
  // backend/ and the libvirt install apply the stages' decisions through a libvirtd: the stages' layer
  [
    3,
    'stages (and backend/, libvirt/install.ts)',
    (f) => f.startsWith('stages/') || f.startsWith('backend/') || f === 'libvirt/install.ts',
  ],
  [
    5,
    'domain (pci, media, kickstart, cloudinit, qemu, request, report, libvirt, base, export/libvirt.ts)',
    (f) =>
      f === 'export/libvirt.ts' ||
      [
        'pci/',
        'media/',
        'kickstart/',
        'cloudinit/',
        'qemu/',
        'request/',
        'report/',
        'libvirt/',
        'base/',
      ].some((d) => f.startsWith(d)),
  ],
  [
    6,
    'leaves (host, errors, error-codes, paths, version, command-context, output-path, template-engine, safe-text)',
    (f) =>
      f.startsWith('host/') ||
      [
        'errors.ts',
        'error-codes.ts',
        'paths.ts',
        'version.ts',
        'command-context.ts',
        'output-path.ts',
        'template-engine.ts',
        'safe-text.ts',
      ].includes(f),
  ],
];
function layerOf(file: string): { rank: number; name: string } | undefined {
  const l = LAYERS.find(([, , match]) => match(file));
  return l ? { rank: l[0], name: l[1] } : undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(path.join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [path.join(dir, e.name)]
        : [],
  );
}

/** src-relative module → the src-relative modules it imports (relative specifiers only). */
export function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const abs of sourceFiles(root)) {
    const info = ts.preProcessFile(readFileSync(abs, 'utf8'), true, true);
    const deps = info.importedFiles
      .map((i) => i.fileName)
      .filter((s) => s.startsWith('.'))
      .map((s) => path.relative(root, path.resolve(path.dirname(abs), s.replace(/\.js$/, '.ts'))));
    graph.set(path.relative(root, abs).split(path.sep).join('/'), [...new Set(deps)].sort());
  }
  return graph;
}

/** The strongly connected components with more than one module (or a self-import): the cycles. */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || graph.get(v)!.includes(v)) found.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('architecture: the direction of imports in src/', () => {
  const graph = importGraph(SRC);

  it('reads the graph (the scanner sees static, type-only and dynamic imports)', () => {
    expect(graph.size).to.be.greaterThan(100);
    // a dynamic import: the CLI loads its work lazily
    expect(graph.get('cli/install.ts')).to.include('pipeline/run-install.ts');
    // a type-only import
    expect(graph.get('stages/prepare-disk.ts')).to.include('pipeline/stage.ts');
  });

  it('finds a cycle when there is one (the check can fail)', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(cycles(g)).to.deep.equal([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('has no import cycle', () => {
    expect(cycles(graph).map((c) => c.join(' → '))).to.deep.equal([]);
  });

  it('places every module in a layer', () => {
    expect([...graph.keys()].filter((f) => !layerOf(f))).to.deep.equal([]);
  });

  it('imports only its own layer or the layers below it', () => {
    const upward: string[] = [];
    for (const [from, deps] of graph) {
      const a = layerOf(from);
      for (const to of deps) {
        const b = layerOf(to);
        if (a && b && b.rank < a.rank) upward.push(`${from} (${a.name}) imports ${to} (${b.name})`);
      }
    }
    expect(upward).to.deep.equal([]);
  });
});
