/**
 * The layers of the code, checked on the import specifiers of every source file: `shared/mcp`
 * sits below `shared/db`, `shared/` below the two programs (`agent/` and `server/`), and the two
 * programs never import each other.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every `import … from`, `export … from`, bare `import '…'` and `import('…')` specifier. */
function importSpecifiers(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1]!));
}

/** The TypeScript files below `folder` (relative to the repository), recursively. */
function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.(?:ts|tsx|mts)$/.test(name))
    .map((name) => join(folder, name));
}

/** Each relative import of the files below `folder`, as `[file, imported path]` from the root. */
function relativeImports(folder: string): [string, string][] {
  return sourceFiles(folder).flatMap((file) =>
    importSpecifiers(readFileSync(join(ROOT, file), 'utf8'))
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier): [string, string] => [
        file,
        relative(ROOT, resolve(ROOT, dirname(file), specifier))
          .split(sep)
          .join('/'),
      ]),
  );
}

/** The imports of the files below `folder` that reach into any of `forbidden` (folders). */
function importsInto(folder: string, forbidden: string[]): string[] {
  return relativeImports(folder)
    .filter(([, target]) =>
      forbidden.some((into) => target === into || target.startsWith(`${into}/`)),
    )
    .map(([file, target]) => `${file} imports ${target}`);
}

/** The source folders whose modules form the program's import graph. */
const PROGRAM_FOLDERS = ['shared', 'agent', 'server', 'cli'];

/**
 * The import cycles among the program's modules (type-only imports included: a cycle of types
 * still ties two modules together), each as the files around the loop; none is allowed.
 */
function importCycles(): string[][] {
  const folders = PROGRAM_FOLDERS.filter((folder) => {
    try {
      return readdirSync(join(ROOT, folder)).length > 0;
    } catch {
      return false;
    }
  });
  const edges = new Map<string, string[]>();
  for (const folder of folders) {
    for (const [file, target] of relativeImports(folder)) {
      const module = target.replace(/\.js$/, '.ts');
      edges.set(file, [...(edges.get(file) ?? []), module]);
    }
  }
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push(stack.slice(stack.indexOf(next)));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...edges.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}

describe('layering', () => {
  it('reads every kind of import specifier', () => {
    const source = [
      "import { a } from '../db/a.js';",
      "import type {\n  B,\n  C,\n} from '../db/b.js';",
      "export { d } from '../db/d.js';",
      "export * from '../db/e.js';",
      "import '../db/f.js';",
      "const g = await import('../db/g.js');",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(
      expect.arrayContaining(['a', 'b', 'd', 'e', 'f', 'g'].map((name) => `../db/${name}.js`)),
    );
    expect(relativeImports('shared/mcp').length).toBeGreaterThan(50);
  });

  it('shared/mcp imports nothing from shared/db (the database sits above the MCP layer)', () => {
    expect(importsInto('shared/mcp', ['shared/db'])).toEqual([]);
  });

  it('nothing under shared/ imports from agent/ or server/', () => {
    expect(importsInto('shared', ['agent', 'server'])).toEqual([]);
  });

  it('the admin command lines (cli/) use no HTTP layer and no program', () => {
    expect(importsInto('cli', ['server', 'agent'])).toEqual([]);
    const httpPackages = sourceFiles('cli').filter((file) =>
      importSpecifiers(readFileSync(join(ROOT, file), 'utf8')).some((specifier) =>
        /^(?:express|helmet|cors|express-rate-limit)(?:\/|$)/.test(specifier),
      ),
    );
    expect(httpPackages).toEqual([]);
  });

  it('every test file mirrors a source file (`<source>.test.ts`, or `<source>.<aspect>.test.ts`)', () => {
    const unmirrored = sourceFiles('test')
      .filter((file) => file.endsWith('.test.ts'))
      .filter((file) => {
        const [base] = file.slice('test/'.length).split('/').pop()!.split('.');
        const folder = dirname(file.slice('test/'.length));
        const source = join(folder, base!);
        // A module, a folder of modules (the dashboard), a file such as package.json, or a test
        // helper (a check of the suite itself).
        const candidates = [`${source}.ts`, source, `${source}.json`, `test/${source}.ts`];
        return !candidates.some((candidate) => {
          try {
            return readdirSync(join(ROOT, dirname(candidate))).includes(basename(candidate));
          } catch {
            return false;
          }
        });
      });
    // This file checks the whole repository's layers, so it mirrors no one source.
    expect(unmirrored).toEqual(['test/layering.test.ts']);
  });

  it('agent/ and server/ never import each other', () => {
    expect(importsInto('agent', ['server'])).toEqual([]);
    expect(importsInto('server', ['agent'])).toEqual([]);
  });

  it('has no import cycles', () => {
    expect(importCycles().map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('shared/errors.ts, used by every layer, imports nothing of ours', () => {
    expect(relativeImports('shared').filter(([file]) => file === 'shared/errors.ts')).toEqual([]);
  });
});
