/**
 * Part of `npm run lint`: fails when the project's TypeScript files import each other in a
 * circle, type-only imports included. A circle makes two files one unit that neither can be
 * read, tested or moved without the other, and at run time it hands one of them a half-loaded
 * module. Each circle is printed with the import that closes it, file by file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
const SKIP = new Set(['node_modules', 'dist', '.data', 'coverage', '.git']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return SKIP.has(entry.name) ? [] : sourceFiles(full);
    return /\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Each file's imports of other files of the project, resolved as TypeScript resolves them. */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  const options: ts.CompilerOptions = { moduleResolution: ts.ModuleResolutionKind.Node10 };
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .filter(({ fileName }) => fileName.startsWith('.'))
      .map(({ fileName }) => {
        const resolved = ts.resolveModuleName(fileName, file, options, ts.sys).resolvedModule;
        return resolved?.resolvedFileName;
      })
      .filter((target): target is string => target !== undefined && known.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The circles of `graph`: its strongly connected components of more than one file (Tarjan). */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next++);
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      const selfImport = graph.get(file)?.includes(file) ?? false;
      if (component.length > 1 || selfImport) cycles.push(component.sort());
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return cycles;
}

function main(): number {
  const graph = importGraph(sourceFiles(ROOT));
  const cycles = findCycles(graph);
  const name = (file: string) => path.relative(ROOT, file);
  for (const cycle of cycles) {
    console.error(`✗ import cycle of ${cycle.length} files:`);
    const members = new Set(cycle);
    for (const file of cycle)
      for (const target of graph.get(file)!.filter((t) => members.has(t)))
        console.error(`    ${name(file)} -> ${name(target)}`);
  }
  if (cycles.length === 0) console.log(`✓ no import cycle among ${graph.size} files`);
  return cycles.length === 0 ? 0 : 1;
}

if (require.main === module) process.exit(main());
