import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  recordSharedEntry,
  removeUnwantedSharedEntries,
  stampOf,
} from '../../src/dev/shared-postgres-dir';

/**
 * The shared directory of embedded PostgreSQL keeps a cluster or a copy of the binaries only
 * while something wants it: a cluster while its project's data directory (holding the note that
 * points at it) exists or a server runs on it; a copy while the binaries it came from are there,
 * unchanged.
 */
let root: string;
let projects: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'shared-pg-'));
  projects = await mkdtemp(path.join(os.tmpdir(), 'projects-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(projects, { recursive: true, force: true });
});

/** A cluster made for a project's data directory, as `embedded-postgres.ts` makes one. */
async function cluster(entry: string, project: string): Promise<string> {
  await mkdir(path.join(root, entry, 'base'), { recursive: true });
  await writeFile(path.join(root, entry, 'PG_VERSION'), '18\n');
  const dataDir = path.join(projects, project, '.data', 'postgres');
  await recordSharedEntry(root, entry, { source: dataDir }, 'cluster');
  return dataDir;
}

/** A package's binaries and a copy of them, recorded. */
async function binaries(entry: string, project: string): Promise<string> {
  const source = path.join(projects, project, 'node_modules', 'native');
  await mkdir(path.join(source, 'bin'), { recursive: true });
  await writeFile(path.join(source, 'bin', 'postgres'), 'binary');
  await mkdir(path.join(root, entry, 'bin'), { recursive: true });
  await recordSharedEntry(root, entry, { source, stamp: await stampOf(source) }, 'binaries');
  return source;
}

const entries = () =>
  ['data-a', 'data-b', 'data-c', 'data-d', 'bin-a', 'bin-b', 'bin-c'].filter((e) =>
    existsSync(path.join(root, e)),
  );

it('leaves a note in the project saying where its cluster is', async () => {
  const dataDir = await cluster('data-a', 'one');
  const note = await readFile(path.join(dataDir, 'WHERE-IS-THE-CLUSTER.txt'), 'utf8');
  expect(note).toContain(path.join(root, 'data-a'));
  expect(JSON.parse(await readFile(path.join(root, 'data-a.source'), 'utf8'))).toEqual({
    source: dataDir,
  });
});

it('removes the clusters and copies of removed clones, and keeps the rest', async () => {
  await cluster('data-a', 'removed');
  await cluster('data-b', 'kept');
  // A clone removed while its server still runs: kept until the server is gone.
  await cluster('data-c', 'removed-running');
  await writeFile(path.join(root, 'data-c', 'postmaster.pid'), `${process.pid}\n/x\n`);
  // Made before records were kept: nothing says what it is for.
  await mkdir(path.join(root, 'data-d'));
  await binaries('bin-a', 'removed');
  await binaries('bin-b', 'kept');
  const reinstalled = await binaries('bin-c', 'reinstalled');
  await rm(path.join(projects, 'removed'), { recursive: true });
  await rm(path.join(projects, 'removed-running'), { recursive: true });
  // Another `npm ci`: the same place, another binary.
  await writeFile(path.join(reinstalled, 'bin', 'postgres'), 'a newer binary');

  const said: string[] = [];
  await removeUnwantedSharedEntries(root, (m) => said.push(m));
  expect(entries()).toEqual(['data-b', 'data-c', 'data-d', 'bin-b']);
  expect(existsSync(path.join(root, 'data-a.source'))).toBe(false);
  expect(existsSync(path.join(root, 'bin-a.source'))).toBe(false);
  expect(said).toHaveLength(3);
  expect(said.join('\n')).toContain(path.join(root, 'data-a'));
});

it('removes a cluster whose project data directory was deleted to start over', async () => {
  const dataDir = await cluster('data-a', 'one');
  await rm(dataDir, { recursive: true });
  await removeUnwantedSharedEntries(root, () => undefined);
  expect(entries()).toEqual([]);
});

it('keeps an entry whose record cannot be read: what it is for is unknown', async () => {
  await cluster('data-b', 'removed');
  await writeFile(path.join(root, 'data-b.source'), '{"sour');
  await rm(path.join(projects, 'removed'), { recursive: true });
  await removeUnwantedSharedEntries(root, () => undefined);
  expect(entries()).toEqual(['data-b']);
});
