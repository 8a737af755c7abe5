import { execFile as execFileCallback, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, cp, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  errorMessage,
  isPortFree,
  StackError,
  supervise,
  waitUntilReady,
  type Watchdog,
} from './child-process';
import { recordSharedEntry, removeUnwantedSharedEntries, stampOf } from './shared-postgres-dir';

const execFile = promisify(execFileCallback);

export interface EmbeddedPostgresOptions {
  /** Cluster directory; initialised on first use, reused afterwards. */
  dataDir: string;
  port: number;
  /** Database to create (if missing) and to put in the returned URL. */
  database: string;
  /** Receives progress messages and the server's own log lines. */
  log?: (m: string) => void;
  /** Stops the server should the caller die without stopping it (see `stack-watchdog.ts`). */
  watchdog?: Watchdog;
}

export interface RunningPostgres {
  /** `postgres://postgres:postgres@127.0.0.1:<port>/<database>` */
  url: string;
  /**
   * Where the cluster really is: `dataDir` as asked, or its place in the shared directory when
   * the `postgres` OS user cannot reach that (see `placesFor`).
   */
  dataDir: string;
  /** The postmaster's pid: signals to it reach the whole server. */
  pid: number;
  /** Fast shutdown, escalating to immediate shutdown and SIGKILL; safe to call twice. */
  stop(): Promise<void>;
}

/** Must match the credentials in `DEFAULT_DATABASE_URL` (src/env.schema.ts). */
const PG_USER = 'postgres';
const PG_PASSWORD = 'postgres';
const PG_HOST = '127.0.0.1';
/** Root-owned, mode 755: binaries and clusters the postgres OS user cannot reach elsewhere. */
const SHARED_ROOT = '/var/lib/event-ingestion/embedded-postgres';
/** SQLSTATEs that retrying will not fix: bad password, unknown role. */
const AUTH_FAILURES = new Set(['28P01', '28000']);
const DUPLICATE_DATABASE = '42P04';

interface OsUser {
  uid: number;
  gid: number;
}

/**
 * Starts PostgreSQL from the `embedded-postgres` binaries, initialising the cluster in `dataDir`
 * first when it has none, and creates `database` if missing.
 *
 * The server runs in its own process group so that Ctrl+C in the terminal does not reach it: the
 * caller stops it after the processes that use it. As root, the cluster is owned by and runs as
 * the `postgres` OS user (created if missing), as PostgreSQL refuses to run as root.
 *
 * @throws {@link StackError} saying what went wrong and what to do about it
 */
export async function startEmbeddedPostgres(
  opts: EmbeddedPostgresOptions,
): Promise<RunningPostgres> {
  const log = opts.log ?? (() => undefined);
  if (!(await isPortFree(PG_HOST, opts.port))) {
    throw new StackError(
      `Port ${opts.port} on ${PG_HOST} is already in use, so embedded PostgreSQL cannot listen on it: ` +
        'is another `npm start` running? Stop it, or point DATABASE_URL at a running PostgreSQL.',
    );
  }
  const { binaries, dataDir, owner } = await placesFor(path.resolve(opts.dataDir), log);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`Initialising a PostgreSQL cluster in ${dataDir} (first run only, takes a few seconds)`);
    await initdb(path.join(binaries, 'bin', 'initdb'), dataDir, owner);
  }

  const postgres = spawn(
    path.join(binaries, 'bin', 'postgres'),
    [
      ...['-D', dataDir, '-p', String(opts.port), '-c', `listen_addresses=${PG_HOST}`],
      // TCP only: no socket files in /tmp to collide with (or be left behind by) other clusters.
      ...['-c', 'unix_socket_directories=', '-c', 'log_checkpoints=off'],
    ],
    // cwd: a directory the postgres OS user can enter, whatever the caller's is.
    { ...owner, cwd: '/', detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const server = supervise(postgres, {
    onLine: log,
    watchdog: opts.watchdog,
    // Fast shutdown (roll back, checkpoint), then immediate (crash recovery on next start).
    stopSignals: [['SIGINT', 10_000], ['SIGQUIT', 5_000], ['SIGKILL']],
  });
  try {
    await waitUntilReady(
      server,
      'Embedded PostgreSQL',
      (timeoutMs) => prepare({ ...opts, dataDir }, timeoutMs),
      {
        exitHint: (output) =>
          output.includes('postmaster.pid')
            ? '\nAnother PostgreSQL (perhaps left from an earlier run) uses this data directory; stop it first.'
            : '',
      },
    );
  } catch (err) {
    await server.stop();
    throw err;
  }
  const database = encodeURIComponent(opts.database);
  return {
    url: `postgres://${PG_USER}:${PG_PASSWORD}@${PG_HOST}:${opts.port}/${database}`,
    dataDir,
    pid: postgres.pid!,
    stop: server.stop,
  };
}

/** Connects, checks it reached the server just started, and creates the database if missing. */
async function prepare(
  target: { port: number; dataDir: string; database: string },
  timeoutMs: number,
): Promise<void> {
  const client = new pg.Client({
    host: PG_HOST,
    port: target.port,
    user: PG_USER,
    password: PG_PASSWORD,
    database: 'postgres',
    connectionTimeoutMillis: timeoutMs,
  });
  // An idle client whose server goes away emits 'error'; unhandled, that would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect().catch((err: unknown) => {
      if (!AUTH_FAILURES.has(sqlState(err))) throw err; // still starting: try again
      throw new StackError(
        `Embedded PostgreSQL in ${target.dataDir} rejected user "${PG_USER}": ${errorMessage(err)}. ` +
          'The cluster was probably made with other credentials; delete the directory to recreate it.',
      );
    });
    const { rows } = await client.query<{ setting: string }>(
      "SELECT setting FROM pg_settings WHERE name = 'data_directory'",
    );
    if (rows[0]?.setting !== target.dataDir) {
      throw new StackError(
        `Port ${target.port} is taken by another PostgreSQL (serving ${rows[0]?.setting}).`,
      );
    }
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      target.database,
    ]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(target.database)}`).catch((err) => {
        // Created by someone else between the check and the CREATE: that is what we wanted.
        if (sqlState(err) === DUPLICATE_DATABASE) return;
        throw new StackError(
          `Could not create database "${target.database}": ${errorMessage(err)}`,
        );
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Where the binaries and the cluster live, and who runs them. As root that is the `postgres` OS
 * user, which cannot reach a project where other users cannot enter (root's home, a `mktemp -d`
 * directory); the kernel is asked (a `test` run as that user) and, where the answer is no,
 * copies in SHARED_ROOT are used instead.
 */
async function placesFor(
  dataDir: string,
  log: (m: string) => void,
): Promise<{ binaries: string; dataDir: string; owner: Partial<OsUser> }> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const binaries = path.resolve(path.dirname(require.resolve(pkg)), '..', 'native');
  await mkdir(path.dirname(dataDir), { recursive: true });
  if (process.getuid?.() !== 0) return { binaries, dataDir, owner: {} };

  const owner = await ensureOsUser(PG_USER);
  const places = { binaries, dataDir, owner };
  const canReachBinaries = await userCan(owner, path.join(binaries, 'bin', 'postgres'));
  const canReachData = await userCan(owner, path.dirname(dataDir));
  if (canReachBinaries && canReachData) return places;

  await mkdir(SHARED_ROOT, { recursive: true, mode: 0o755 });
  // What removed clones (or deleted data directories) left here, this one's included.
  await removeUnwantedSharedEntries(SHARED_ROOT, log);
  if (!canReachBinaries) {
    // Named after the package's place and binary, so an upgrade makes a new copy.
    const stamp = (await stampOf(binaries))!;
    const entry = `bin-${hashOf(`${binaries}:${stamp}`)}`;
    places.binaries = path.join(SHARED_ROOT, entry);
    if ((await stat(places.binaries).catch(() => null))?.uid !== 0) {
      log(`The "postgres" OS user cannot reach ${binaries}; copying them to ${places.binaries}`);
      const partial = await mkdtemp(`${places.binaries}.partial-`);
      await cp(binaries, partial, { recursive: true, verbatimSymlinks: true });
      await execFile('chmod', ['-R', 'a+rX', partial]);
      await rm(places.binaries, { recursive: true, force: true });
      await rename(partial, places.binaries);
    }
    await recordSharedEntry(SHARED_ROOT, entry, { source: binaries, stamp }, 'binaries');
  }
  if (!canReachData) {
    const entry = `data-${hashOf(dataDir)}`;
    places.dataDir = path.join(SHARED_ROOT, entry);
    log(`The "postgres" OS user cannot reach ${dataDir}; the cluster lives in ${places.dataDir}`);
    await recordSharedEntry(SHARED_ROOT, entry, { source: dataDir }, 'cluster');
  }
  return places;
}

async function initdb(executable: string, dataDir: string, owner: Partial<OsUser>): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pg-init-'));
  const pwfile = path.join(dir, 'password');
  await writeFile(pwfile, `${PG_PASSWORD}\n`, { mode: 0o600 });
  if (owner.uid !== undefined && owner.gid !== undefined) {
    for (const file of [dataDir, dir, pwfile]) await chown(file, owner.uid, owner.gid);
  }
  try {
    await execFile(
      executable,
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        `--username=${PG_USER}`,
        `--pwfile=${pwfile}`,
        // The C locale behaves the same on every machine and always exists.
        '--encoding=UTF8',
        '--no-locale',
      ],
      { ...owner, cwd: '/' },
    );
  } catch (err) {
    const output = String((err as { stderr?: unknown }).stderr ?? '');
    throw new StackError(
      `Could not initialise a PostgreSQL cluster in ${dataDir}: ${errorMessage(err)}` +
        '\nIf the directory holds a half-made cluster, delete it and try again.',
      output,
      { cause: err },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The OS user, created (with its group) if missing. */
async function ensureOsUser(user: string): Promise<OsUser> {
  const ids = async () => {
    const [uid, gid] = await Promise.all(
      ['-u', '-g'].map(async (flag) => Number((await execFile('id', [flag, user])).stdout)),
    );
    return { uid: uid!, gid: gid! };
  };
  return ids().catch(async () => {
    await execFile('groupadd', [user]).catch(() => undefined);
    await execFile('useradd', ['-g', user, user]).catch((err: unknown) => {
      throw new StackError(
        `Running as root, PostgreSQL needs an OS user "${user}", which could not be created: ${errorMessage(err)}`,
      );
    });
    return ids();
  });
}

/** Whether `user` may enter or run `file`: the kernel checks every parent directory. */
function userCan(user: OsUser, file: string): Promise<boolean> {
  return execFile('/bin/sh', ['-c', 'test -x "$0"', file], { ...user, cwd: '/' }).then(
    () => true,
    () => false,
  );
}

const hashOf = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);

function sqlState(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}
