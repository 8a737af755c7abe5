/**
 * `npm start`: the whole service on one machine. Starts what is not configured (a Temporal dev
 * server unless TEMPORAL_ADDRESS is set, an embedded PostgreSQL unless DATABASE_URL is set),
 * applies migrations, then runs the API and the worker as child processes until Ctrl+C, and stops
 * everything in reverse order: API and worker first (they drain), then Temporal and PostgreSQL.
 */
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { inspect } from 'node:util';
import {
  ConfigError,
  DEFAULT_TEMPORAL_ADDRESS,
  EMBEDDED_POSTGRES_PORT,
  loadConfig,
  type Config,
} from '../src/config';
import { runMigrations } from '../src/db/migrate';
import { spawnEntryPoint, StackError, type Supervised } from '../src/dev/child-process';
import {
  EmbeddedPostgresPortInUseError,
  startEmbeddedPostgres,
} from '../src/dev/embedded-postgres';
import { ensureTemporalCli } from '../src/dev/temporal-cli';
import { PortInUseError, startTemporalDevServer } from '../src/dev/temporal-dev-server';

const ROOT = path.resolve(__dirname, '..');
/** Git-ignored; everything local runs keep between runs lives here. */
const DATA_DIR = path.join(ROOT, '.data');
const TEMPORAL_UI_PORT = 8233;
const EMBEDDED_DATABASE = 'events';
/** API and worker get SHUTDOWN_GRACE_MS to drain; after this much more they are killed. */
const KILL_MARGIN_MS = 5_000;
const API_WAIT_MS = 60_000;
/** npm forwards the terminal's SIGINT, so one Ctrl+C arrives twice: only a later one forces. */
const FORCE_AFTER_MS = 1_000;
const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

interface Service {
  name: string;
  stop(): Promise<void>;
}

interface App extends Supervised {
  name: string;
}

interface Endpoints {
  databaseUrl: string;
  temporalAddress: string;
  /** Banner lines describing where Temporal and PostgreSQL come from. */
  notes: string[];
  uiUrl?: string;
}

/** Raised inside start-up once Ctrl+C was pressed, to unwind through the normal clean-up. */
class ShutdownRequested extends Error {
  override readonly name = 'ShutdownRequested';
}

const say = (msg: string): void => console.log(`[start] ${msg}`);

/** Resolves on the first SIGINT/SIGTERM/SIGHUP; a later one kills everything at once. */
function watchSignals(apps: readonly App[]): {
  requested: Promise<NodeJS.Signals>;
  isRequested(): boolean;
} {
  let firstAt: number | undefined;
  let resolveRequested: (signal: NodeJS.Signals) => void = () => undefined;
  const requested = new Promise<NodeJS.Signals>((resolve) => (resolveRequested = resolve));
  for (const signal of SHUTDOWN_SIGNALS) {
    process.on(signal, () => {
      if (firstAt === undefined) {
        firstAt = Date.now();
        say(`${signal} received: stopping (press Ctrl+C again to force)`);
        resolveRequested(signal);
      } else if (Date.now() - firstAt > FORCE_AFTER_MS) {
        say('Forced exit');
        for (const app of apps) if (app.running()) app.child.kill('SIGKILL');
        // Temporal and PostgreSQL are told to stop by their own exit hooks.
        process.exit(130);
      }
    });
  }
  return { requested, isRequested: () => firstAt !== undefined };
}

async function main(): Promise<number> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    return 1;
  }

  const apps: App[] = [];
  const services: Service[] = [];
  const shutdown = watchSignals(apps);
  const checkpoint = (): void => {
    if (shutdown.isRequested()) throw new ShutdownRequested();
  };

  let exitCode = 0;
  try {
    const endpoints = await startServices(config, services);
    checkpoint();

    say('Applying database migrations');
    const applied = await runMigrations(endpoints.databaseUrl);
    say(
      applied.length === 0
        ? 'Database schema is up to date'
        : `Applied migrations: ${applied.join(', ')}`,
    );
    checkpoint();

    const env = {
      ...process.env,
      DATABASE_URL: endpoints.databaseUrl,
      TEMPORAL_ADDRESS: endpoints.temporalAddress,
    };
    const stopAfterMs = config.shutdownGraceMs + KILL_MARGIN_MS;
    apps.push(
      spawnApp('api', 'src/server.ts', env, stopAfterMs),
      spawnApp('worker', 'src/worker.ts', env, stopAfterMs),
    );
    const firstExit = Promise.race(
      apps.map((app) => app.exited.then((exit) => ({ name: app.name, ...exit }))),
    );

    const stopWaiting = new AbortController();
    const apiUp = await Promise.race([
      waitForPort(config.api.host, config.api.port, API_WAIT_MS, stopWaiting.signal),
      firstExit.then(() => false),
      shutdown.requested.then(() => false),
    ]);
    stopWaiting.abort();
    if (apiUp) printBanner(config, endpoints);
    else if (!shutdown.isRequested())
      say(`The API is not listening on port ${config.api.port} yet`);

    const outcome = await Promise.race([firstExit, shutdown.requested]);
    if (typeof outcome === 'object') {
      const how =
        outcome.signal !== null
          ? `was killed by ${outcome.signal}`
          : `exited with code ${outcome.code}`;
      console.error(`[start] The ${outcome.name} ${how}; stopping everything.`);
      exitCode = 1;
    }
  } catch (err) {
    if (!(err instanceof ShutdownRequested) && !shutdown.isRequested()) {
      printError(err);
      exitCode = 1;
    }
  } finally {
    await stopApps(apps);
    await stopServices(services);
  }
  return exitCode;
}

/**
 * Starts the dev server and PostgreSQL side by side (each takes a few seconds), registering each
 * in `services` as soon as it runs so that a failure of the other still stops it.
 */
async function startServices(config: Config, services: Service[]): Promise<Endpoints> {
  const temporalConfigured = isSet('TEMPORAL_ADDRESS');
  const databaseConfigured = isSet('DATABASE_URL');

  const [temporal, postgres] = await Promise.allSettled([
    temporalConfigured ? undefined : startTemporal(config),
    databaseConfigured ? undefined : startPostgres(),
  ]);
  for (const result of [temporal, postgres]) {
    if (result.status === 'fulfilled' && result.value !== undefined)
      services.push(result.value.service);
  }
  const failures = [temporal, postgres].flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1)
    throw new AggregateError(failures, 'Temporal and PostgreSQL could not be started');

  const devServer = temporal.status === 'fulfilled' ? temporal.value : undefined;
  const embedded = postgres.status === 'fulfilled' ? postgres.value : undefined;
  return {
    temporalAddress: devServer?.address ?? config.temporal.address,
    databaseUrl: embedded?.url ?? config.database.url,
    uiUrl: devServer?.uiUrl,
    notes: [
      devServer
        ? `Temporal      ${devServer.address}  (dev server; state in .data/temporal.db, log in .data/temporal.log)`
        : `Temporal      ${config.temporal.address}  (from TEMPORAL_ADDRESS)`,
      embedded
        ? `PostgreSQL    127.0.0.1:${EMBEDDED_POSTGRES_PORT}/${EMBEDDED_DATABASE}  (embedded; data in .data/postgres)`
        : 'PostgreSQL    from DATABASE_URL',
    ],
  };
}

async function startTemporal(
  config: Config,
): Promise<{ service: Service; address: string; uiUrl?: string }> {
  const executable = await ensureTemporalCli(say);
  const { host, port } = splitHostPort(DEFAULT_TEMPORAL_ADDRESS);
  say(`Starting the Temporal dev server on ${host}:${port}`);
  const server = await startTemporalDevServer({
    executable,
    ip: host,
    port,
    uiPort: TEMPORAL_UI_PORT,
    dbFilename: path.join(DATA_DIR, 'temporal.db'),
    // SQLite's default rollback journal with a sync per commit made the file-backed server about
    // 8x slower than in-memory state in the bench; WAL with normal sync brings it level. A crash
    // of the machine (not of the server) may lose the last transactions: fine for a dev server.
    sqlitePragmas: { journal_mode: 'wal', synchronous: 'normal' },
    namespace: config.temporal.namespace,
    logFile: path.join(DATA_DIR, 'temporal.log'),
  });
  say('Temporal is ready');
  return {
    service: { name: 'Temporal dev server', stop: server.stop },
    address: server.address,
    uiUrl: server.uiUrl,
  };
}

async function startPostgres(): Promise<{ service: Service; url: string }> {
  say(`Starting PostgreSQL on 127.0.0.1:${EMBEDDED_POSTGRES_PORT}`);
  const postgres = await startEmbeddedPostgres({
    dataDir: path.join(DATA_DIR, 'postgres'),
    port: EMBEDDED_POSTGRES_PORT,
    database: EMBEDDED_DATABASE,
    log: (line) => console.log(`[postgres] ${line}`),
  });
  say('PostgreSQL is ready');
  return { service: { name: 'PostgreSQL', stop: postgres.stop }, url: postgres.url };
}

/**
 * Runs an entry point under ts-node. Detached, i.e. in its own process group, so that Ctrl+C
 * reaches it once, as our SIGTERM, rather than straight from the terminal and again from us.
 * Stopping it sends SIGTERM, then SIGKILL once `stopAfterMs` have passed.
 */
function spawnApp(name: string, entry: string, env: NodeJS.ProcessEnv, stopAfterMs: number): App {
  const app = spawnEntryPoint(entry, {
    env,
    detached: true,
    inheritOutput: true,
    stopSignals: [['SIGTERM', stopAfterMs], ['SIGKILL']],
  });
  void app.exited.then(({ error }) => {
    if (error) console.error(`[start] Could not start the ${name}: ${error.message}`);
  });
  return Object.assign(app, { name });
}

async function stopApps(apps: readonly App[]): Promise<void> {
  const running = apps.filter((app) => app.running());
  if (running.length === 0) return;
  say(`Stopping ${running.map((app) => app.name).join(' and ')}`);
  await Promise.all(running.map((app) => app.stop()));
}

async function stopServices(services: readonly Service[]): Promise<void> {
  for (const service of [...services].reverse()) {
    say(`Stopping ${service.name}`);
    try {
      await service.stop();
    } catch (err) {
      console.error(`[start] Could not stop ${service.name}: ${inspect(err)}`);
    }
  }
}

/** Polls until something accepts TCP connections on the API port. */
async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  // A wildcard bind is reachable on loopback; connecting to the wildcard itself is not portable.
  const target = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !signal.aborted) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: target, port });
      const done = (ok: boolean): void => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(1_000);
      socket.once('connect', () => done(true));
      socket.once('timeout', () => done(false));
      socket.once('error', () => done(false));
    });
    if (open) return true;
    await delay(250, undefined, { ref: false });
  }
  return false;
}

function printBanner(config: Config, endpoints: Endpoints): void {
  const lines = [
    '',
    'Event ingestion is running.',
    `  API           http://localhost:${config.api.port}`,
    ...(endpoints.uiUrl ? [`  Temporal UI   ${endpoints.uiUrl}`] : []),
    ...endpoints.notes.map((note) => `  ${note}`),
    '',
    '  Get an API token:',
    '    npm run users:create -- --email you@example.com',
    '',
    '  Ctrl+C stops everything.',
    '',
  ];
  console.log(lines.join('\n'));
}

function printError(err: unknown): void {
  if (err instanceof AggregateError) {
    console.error(`[start] ${err.message}:`);
    for (const inner of err.errors) printError(inner);
    return;
  }
  const hint = hintFor(err);
  // A stack error's message says what went wrong and what to do: no stack trace needed.
  if (err instanceof StackError) {
    console.error(`[start] ${err.message}${hint}`);
    for (
      let cause = err.cause;
      cause !== undefined;
      cause = cause instanceof Error ? cause.cause : undefined
    ) {
      console.error(`  caused by: ${cause instanceof Error ? cause.message : inspect(cause)}`);
    }
  } else {
    console.error(`[start] ${inspect(err)}${hint}`);
  }
}

/** What to do about failures that usually mean another `npm start` is running. */
function hintFor(err: unknown): string {
  if (err instanceof PortInUseError) {
    return err.heldByTemporal
      ? `\nIs another \`npm start\` running? Stop it, or use that server: TEMPORAL_ADDRESS=${err.host}:${err.port} npm start`
      : '\nFree the port, or point TEMPORAL_ADDRESS at an existing Temporal server.';
  }
  if (err instanceof EmbeddedPostgresPortInUseError) {
    return '\nIs another `npm start` running? Stop it, or point DATABASE_URL at an existing PostgreSQL.';
  }
  return '';
}

function isSet(variable: string): boolean {
  const value = process.env[variable];
  return value !== undefined && value !== '';
}

function splitHostPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return {
    host: address.slice(0, colon).replace(/^\[|\]$/g, ''),
    port: Number(address.slice(colon + 1)),
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(inspect(err));
    process.exit(1);
  },
);
