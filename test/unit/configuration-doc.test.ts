import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ENV_VARIABLES } from '../../src/env.schema';

/**
 * docs/configuration.md is the one list of the service's environment variables a user reads;
 * the schema in src/config.ts is what the code reads. A variable in one and not the other is a
 * setting nobody can find, or one that does nothing.
 */
const doc = readFileSync(path.resolve(__dirname, '../../docs/configuration.md'), 'utf8');

/** The names in the first column of the table: `A`, `A` / `B`, `A_*` for a family. */
const documented = doc
  .split('\n')
  .filter((line) => line.startsWith('| `'))
  .flatMap((line) =>
    [...line.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]*\*?)`/g)].map((m) => m[1]!),
  );

const covers = (name: string) => (entry: string) =>
  entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry;

it('documents every variable the configuration reads', () => {
  expect(ENV_VARIABLES.filter((name) => !documented.some(covers(name)))).toEqual([]);
});

it('documents no variable the configuration does not read', () => {
  const unknown = documented.filter((entry) => !ENV_VARIABLES.some((name) => covers(name)(entry)));
  expect(unknown).toEqual([]);
});
