import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chown, cp, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StackError } from './child-process';

/**
 * PostgreSQL refuses to run as root, so as root the embedded server runs as the `postgres` OS
 * user. That user must be able to reach the binaries and the data directory, which it cannot
 * when the project lives where other users cannot enter (root's home, a `mktemp -d` directory).
 * This module finds out with the kernel's own answer (a `test` run as that user) and, where the
 * answer is no, uses copies in a root-owned directory every user can enter.
 */

/** Root-owned, mode 755: where binaries and clusters go that the project directory cannot hold. */
export const SHARED_ROOT = '/var/lib/event-ingestion/embedded-postgres';

export interface OsUser {
  uid: number;
  gid: number;
}

/** Thrown when the postgres OS user cannot be found or created. */
export class PostgresUserError extends StackError {}

/** The `postgres` OS user, created (with its group) if missing, as the embedded library does. */
export async function ensurePostgresUser(user: string): Promise<OsUser> {
  const found = await userIds(user).catch(() => null);
  if (found) return found;
  await run('groupadd', [user]).catch(() => undefined);
  await run('useradd', ['-g', user, user]).catch((err: Error) => {
    throw new PostgresUserError(
      `Running as root, PostgreSQL needs an OS user "${user}" and it could not be created: ${err.message}`,
    );
  });
  return userIds(user);
}

/** True when `user` passes `test <flag> <file>`: the kernel checks every parent directory. */
export function userCan(user: OsUser, flag: '-x' | '-w' | '-r', file: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', 'test "$0" "$1"', flag, file], { ...user, cwd: '/' }, (error) =>
      resolve(!error),
    );
  });
}

/**
 * The binaries directory (holding bin/, lib/, share/) `user` can run: the package's own, or
 * a copy of it under SHARED_ROOT, made once per package location.
 */
export async function reachableBinaries(
  nativeDir: string,
  user: OsUser,
  log: (m: string) => void,
): Promise<string> {
  if (await userCan(user, '-x', path.join(nativeDir, 'bin', 'postgres'))) return nativeDir;
  // Named after the package's place and its postgres binary, so an upgrade makes a new copy.
  const binary = await stat(path.join(nativeDir, 'bin', 'postgres'));
  const copy = path.join(
    SHARED_ROOT,
    `bin-${hashOf(`${nativeDir}:${binary.size}:${binary.mtimeMs}`)}`,
  );
  if (await isRootOwnedDir(copy)) return copy;
  log(
    `The "postgres" OS user cannot reach ${nativeDir}; copying the PostgreSQL binaries to ${copy}`,
  );
  await mkdir(SHARED_ROOT, { recursive: true, mode: 0o755 });
  const partial = await mkdtemp(`${copy}.partial-`);
  await cp(nativeDir, partial, {
    recursive: true,
    verbatimSymlinks: true,
    preserveTimestamps: true,
  });
  await run('chmod', ['-R', 'a+rX', partial]);
  await rm(copy, { recursive: true, force: true });
  await rename(partial, copy);
  return copy;
}

/**
 * The data directory `user` can own: `dataDir` when it can enter its parent, otherwise one
 * under SHARED_ROOT named after `dataDir`, so each project keeps its own cluster.
 */
export async function reachableDataDir(
  dataDir: string,
  user: OsUser,
  log: (m: string) => void,
): Promise<string> {
  await mkdir(path.dirname(dataDir), { recursive: true });
  if (await userCan(user, '-x', path.dirname(dataDir))) return dataDir;
  const elsewhere = path.join(SHARED_ROOT, `data-${hashOf(dataDir)}`);
  log(`The "postgres" OS user cannot reach ${dataDir}; the cluster lives in ${elsewhere}`);
  await mkdir(SHARED_ROOT, { recursive: true, mode: 0o755 });
  return elsewhere;
}

/** Runs `initdb` as `user` for a cluster in `dataDir` owned by that user. */
export async function initdbAs(
  user: OsUser,
  initdb: string,
  opts: { dataDir: string; superuser: string; password: string; flags: string[] },
): Promise<string> {
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  await chown(opts.dataDir, user.uid, user.gid);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg-init-'));
  const pwfile = path.join(dir, 'password');
  try {
    await writeFile(pwfile, `${opts.password}\n`, { mode: 0o600 });
    await chown(dir, user.uid, user.gid);
    await chown(pwfile, user.uid, user.gid);
    return await new Promise<string>((resolve, reject) => {
      let output = '';
      const child = spawn(
        initdb,
        [
          `--pgdata=${opts.dataDir}`,
          '--auth=scram-sha-256',
          `--username=${opts.superuser}`,
          `--pwfile=${pwfile}`,
          ...opts.flags,
        ],
        { ...user, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve(output) : reject(new Error(`initdb exited with ${code}: ${output}`)),
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function isRootOwnedDir(dir: string): Promise<boolean> {
  const s = await stat(dir).catch(() => null);
  return s !== null && s.isDirectory() && s.uid === 0;
}

const hashOf = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (error, stdout, stderr) =>
      error ? reject(new Error(`${cmd}: ${stderr || error.message}`)) : resolve(stdout),
    );
  });
}

function userIds(user: string): Promise<OsUser> {
  const id = (flag: string) =>
    run('id', [flag, user]).then((out) => {
      const value = Number.parseInt(out, 10);
      if (Number.isNaN(value)) throw new PostgresUserError(`No OS user "${user}"`);
      return value;
    });
  return Promise.all([id('-u'), id('-g')]).then(([uid, gid]) => ({ uid, gid }));
}
