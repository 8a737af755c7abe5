import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What the shared directory of embedded PostgreSQL (see `embedded-postgres.ts`) holds for each
 * project that cannot keep its own: copies of the binaries (`bin-<hash>`) and clusters
 * (`data-<hash>`), each with a small record beside it (`<entry>.source`) naming what it was made
 * for. Without the records nothing would ever tell an entry of a removed clone from one in use,
 * and the directory would keep one cluster per clone forever.
 */
interface EntryRecord {
  /**
   * A cluster: the project's data directory, which holds a note saying where the cluster is.
   * A copy of the binaries: the directory it was copied from.
   */
  source: string;
  /** A copy of the binaries: the size and time of the `postgres` binary it was copied from. */
  stamp?: string;
}

const NOTE = 'WHERE-IS-THE-CLUSTER.txt';

/**
 * Records that `entry` (a directory in `root`) was made for `source` and, for a cluster,
 * leaves the note in the project's data directory that keeps the cluster wanted: deleting that
 * directory (or the clone) lets the next start anywhere remove the cluster.
 */
export async function recordSharedEntry(
  root: string,
  entry: string,
  record: EntryRecord,
  kind: 'cluster' | 'binaries',
): Promise<void> {
  if (kind === 'cluster') {
    await mkdir(record.source, { recursive: true });
    await writeFile(
      path.join(record.source, NOTE),
      `The embedded PostgreSQL cluster of this project lives in ${path.join(root, entry)}:\n` +
        'the "postgres" OS user cannot reach this directory. Delete this directory to start\n' +
        'over with a new cluster; the next `npm start` removes the old one.\n',
    );
  }
  await writeFile(path.join(root, `${entry}.source`), JSON.stringify(record));
}

/**
 * Removes the entries of `root` that nothing wants any more, and says so through `log`: a
 * cluster whose project data directory is gone (the clone was removed, or the directory
 * deleted to start over) and that no server runs on; a copy of the binaries whose source is
 * gone or has changed (an upgrade, another `npm ci`). Entries without a record (made before
 * records were kept) are left alone.
 */
export async function removeUnwantedSharedEntries(
  root: string,
  log: (m: string) => void,
): Promise<void> {
  const names = await readdir(root).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.endsWith('.source')) continue;
    const entry = name.slice(0, -'.source'.length);
    const record = await readRecord(path.join(root, name));
    // A record half written when its writer died: what it was made for is unknown.
    if (!record) continue;
    const dir = path.join(root, entry);
    const unwanted = entry.startsWith('data-')
      ? !(await exists(record.source)) && !(await serverRunsOn(dir))
      : !(await exists(record.source)) || record.stamp !== (await stampOf(record.source));
    if (!unwanted) continue;
    log(`Removing ${dir}: made for ${record.source}, which is gone or has changed`);
    await rm(dir, { recursive: true, force: true });
    await rm(path.join(root, name), { force: true });
  }
}

/** The size and time of a binaries directory's `postgres`, which tell one install from the next. */
export async function stampOf(binaries: string): Promise<string | undefined> {
  const binary = await stat(path.join(binaries, 'bin', 'postgres')).catch(() => null);
  return binary ? `${binary.size}:${binary.mtimeMs}` : undefined;
}

async function readRecord(file: string): Promise<EntryRecord | null> {
  try {
    const record = JSON.parse(await readFile(file, 'utf8')) as EntryRecord;
    return typeof record.source === 'string' ? record : null;
  } catch {
    return null;
  }
}

async function exists(file: string): Promise<boolean> {
  return (await stat(file).catch(() => null)) !== null;
}

/** Whether the postmaster a cluster's `postmaster.pid` names is alive. */
async function serverRunsOn(dataDir: string): Promise<boolean> {
  const text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
  const pid = Number(text?.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, and someone else's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
