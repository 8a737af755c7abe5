/**
 * `npm start`: the whole service on one machine. Starts what is not configured (a Temporal dev
 * server unless TEMPORAL_ADDRESS is set, an embedded PostgreSQL unless DATABASE_URL is set),
 * applies migrations, then runs the API and the worker as child processes until Ctrl+C, and stops
 * everything in reverse order: API and worker first (they drain), then Temporal and PostgreSQL.
 *
 * Nothing outlives it: when it is killed (SIGKILL, a closed terminal) a watchdog stops what it
 * started within seconds, and the next run stops whatever a run before left (see
 * `src/dev/stack-watchdog.ts`); when npm above it dies, it stops as on Ctrl+C.
 */
import path from 'node:path';
import { inspect } from 'node:util';
import { loadConfig, type Config } from '../src/config';
import { EMBEDDED_POSTGRES_PORT } from '../src/env.schema';
import { DEFAULT_TEMPORAL_ADDRESS } from '../src/temporal/connection-options';
import { runMigrations } from '../src/db/migrate';
import {
  describeExit,
  spawnEntryPoint,
  StackError,
  waitForHttp,
  type Supervised,
  type Watchdog,
} from '../src/dev/child-process';
import { startEmbeddedPostgres } from '../src/dev/embedded-postgres';
import { onLauncherExit, startStackWatchdog, stopLeftovers } from '../src/dev/stack-watchdog';
import { ensureTemporalCli } from '../src/dev/temporal-cli';
import { startTemporalDevServer } from '../src/dev/temporal-dev-server';
import { runMain } from '../src/run-main';
import { bundleWorkflows } from './bundle-workflows';

/** Git-ignored; everything local runs keep between runs lives here. */
const DATA_DIR = path.resolve(__dirname, '..', '.data');
const TEMPORAL_UI_PORT = 8233;
const EMBEDDED_DATABASE = 'events';
/** API and worker get SHUTDOWN_GRACE_MS to drain; after this much more they are killed. */
const KILL_MARGIN_MS = 5_000;
/** npm forwards the terminal's SIGINT, so one Ctrl+C arrives twice: only a later one forces. */
const FORCE_AFTER_MS = 1_000;
/** What this run started and is still running, for the next run should this one be killed. */
const RECORD_FILE = path.join(DATA_DIR, 'npm-start.json');
/** How often to look whether npm, which started us, is still there. */
const LAUNCHER_CHECK_MS = 1_000;
const API_WAIT_MS = 120_000;
const WORKFLOW_BUNDLE = path.join(DATA_DIR, 'workflow-bundle.js');

const say = (msg: string): void => console.log(`[start] ${msg}`);

/** Something started that must be stopped, last started first. */
type Stoppable = { name: string; stop(): Promise<void> };

async function main(): Promise<number> {
  const config = loadConfig();
  const apps: (Supervised & { name: string })[] = [];
  const services: Stoppable[] = [];
  let stopRequestedAt: number | undefined;
  const stopRequested = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        if (stopRequestedAt === undefined) {
          stopRequestedAt = Date.now();
          say(`${signal} received: stopping (press Ctrl+C again to force)`);
          resolve();
        } else if (Date.now() - stopRequestedAt > FORCE_AFTER_MS) {
          say('Forced exit');
          // Temporal and PostgreSQL get their first stop signal from their supervisors' exit hooks.
          for (const app of apps) app.child.kill('SIGKILL');
          process.exit(130);
        }
      });
    }
    // npm killed (SIGKILL): no signal reaches us.
    void onLauncherExit(() => {
      if (stopRequestedAt !== undefined) return;
      stopRequestedAt = Date.now();
      say('npm exited: stopping');
      resolve();
    }, LAUNCHER_CHECK_MS);
  });

  // A run before this one, killed with its watchdog, may have left its processes running.
  await stopLeftovers(RECORD_FILE, say);
  const watchdog = await startStackWatchdog({
    recordFile: RECORD_FILE,
    graceSec: Math.ceil((config.shutdownGraceMs + KILL_MARGIN_MS) / 1000),
  });

  let exitCode = 0;
  try {
    // Bundled here, beside the services starting, rather than in the worker: bundling at start
    // takes seconds and leaves about 100 MB in the worker that it never gives back.
    const workflowBundle = config.worker.workflowBundlePath ?? WORKFLOW_BUNDLE;
    const [stack] = await Promise.all([
      startServices(config, services, watchdog),
      config.worker.workflowBundlePath ? undefined : bundleWorkflows(WORKFLOW_BUNDLE),
    ]);
    if (stopRequestedAt !== undefined) return 0;
    say('Applying database migrations');
    const applied = await runMigrations(stack.databaseUrl);
    say(applied.length === 0 ? 'Database schema is up to date' : `Applied: ${applied.join(', ')}`);
    if (stopRequestedAt !== undefined) return 0;

    const env = {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: stack.address,
      WORKFLOW_BUNDLE_PATH: workflowBundle,
    };
    for (const [name, entry] of [
      ['api', 'src/server.ts'],
      ['worker', 'src/worker.ts'],
    ] as const) {
      // Detached: Ctrl+C reaches them once, as our SIGTERM, not also straight from the terminal.
      const app = spawnEntryPoint(entry, {
        env,
        // Plain JavaScript, as the image runs it: no TypeScript compiler in the services' memory.
        compiled: true,
        detached: true,
        inheritOutput: true,
        stopSignals: [['SIGTERM', config.shutdownGraceMs + KILL_MARGIN_MS], ['SIGKILL']],
        watchdog,
      });
      apps.push(Object.assign(app, { name }));
    }
    const firstExit = Promise.race(
      apps.map((app) => app.exited.then((exit) => `The ${app.name} ${describeExit(exit)}`)),
    );
    const url = `http://${loopback(config.api.host)}:${config.api.port}/health`;
    const ready = await Promise.race([
      waitForHttp(apps[0]!, 'The API', url, API_WAIT_MS).then(() => true),
      firstExit.then(() => false),
      stopRequested.then(() => false),
    ]);
    if (ready) printBanner(config, stack);

    const exit = await Promise.race([firstExit, stopRequested]);
    if (exit !== undefined) {
      console.error(`[start] ${exit}; stopping everything.`);
      exitCode = 1;
    }
  } catch (err) {
    if (stopRequestedAt === undefined) {
      printError(err);
      exitCode = 1;
    }
  } finally {
    const running = apps.filter((app) => app.running());
    if (running.length > 0) say(`Stopping ${running.map((app) => app.name).join(' and ')}`);
    await Promise.all(running.map((app) => app.stop()));
    for (const service of services.reverse()) {
      say(`Stopping ${service.name}`);
      await service.stop().catch((err: unknown) => printError(err));
    }
    await watchdog.close();
  }
  return exitCode;
}

/**
 * Starts the dev server and PostgreSQL side by side (each takes a few seconds), adding each to
 * `services` as soon as it runs, so that a failure of the other still stops it.
 */
async function startServices(config: Config, services: Stoppable[], watchdog: Watchdog) {
  const tracked = async <T extends { stop(): Promise<void> }>(
    name: string,
    where: string,
    start: () => Promise<T>,
  ) => {
    say(`Starting ${name} on ${where}`);
    const service = await start();
    services.push({ name, stop: service.stop });
    say(`${name} is ready`);
    return service;
  };
  const [ip, port] = DEFAULT_TEMPORAL_ADDRESS.split(':');
  const [temporal, postgres] = await Promise.allSettled([
    isSet('TEMPORAL_ADDRESS')
      ? undefined
      : tracked('Temporal dev server', DEFAULT_TEMPORAL_ADDRESS, async () =>
          startTemporalDevServer({
            executable: await ensureTemporalCli(say),
            ip,
            port: Number(port),
            uiPort: TEMPORAL_UI_PORT,
            dbFilename: path.join(DATA_DIR, 'temporal.db'),
            // SQLite's default journal with a sync per commit made the file-backed server about
            // 8x slower than in-memory state in the bench; WAL with normal sync brings it level.
            // A machine crash may lose the last transactions: fine for a dev server.
            sqlitePragmas: { journal_mode: 'wal', synchronous: 'normal' },
            namespace: config.temporal.namespace,
            logFile: path.join(DATA_DIR, 'temporal.log'),
            watchdog,
          }),
        ),
    isSet('DATABASE_URL')
      ? undefined
      : tracked('PostgreSQL', `127.0.0.1:${EMBEDDED_POSTGRES_PORT}`, () =>
          startEmbeddedPostgres({
            dataDir: path.join(DATA_DIR, 'postgres'),
            port: EMBEDDED_POSTGRES_PORT,
            database: EMBEDDED_DATABASE,
            log: (line) => console.log(`[postgres] ${line}`),
            watchdog,
          }),
        ),
  ]);
  const failures = [temporal, postgres].flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  if (failures.length > 0) throw failures.length === 1 ? failures[0] : new AggregateError(failures);
  const devServer = temporal.status === 'fulfilled' ? temporal.value : undefined;
  const embedded = postgres.status === 'fulfilled' ? postgres.value : undefined;
  return {
    address: devServer?.address ?? config.temporal.address,
    databaseUrl: embedded?.url ?? config.database.url,
    uiUrl: devServer?.uiUrl,
    /** Where Temporal and PostgreSQL come from, for the banner. */
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

function printBanner(config: Config, stack: Awaited<ReturnType<typeof startServices>>): void {
  console.log(
    [
      '',
      'Event ingestion is running.',
      `  API           http://localhost:${config.api.port}`,
      ...(stack.uiUrl ? [`  Temporal UI   ${stack.uiUrl}`] : []),
      ...stack.notes.map((note) => `  ${note}`),
      '',
      '  Get an API token:',
      '    npm run users:create -- --email you@example.com',
      '',
      '  Ctrl+C stops everything.',
      '',
    ].join('\n'),
  );
}

/** A stack error's message says what went wrong and what to do: no stack trace needed. */
function printError(err: unknown): void {
  if (err instanceof AggregateError) {
    for (const inner of err.errors) printError(inner);
  } else if (err instanceof StackError) {
    console.error(`[start] ${err.message}`);
    for (let cause = err.cause; cause instanceof Error; cause = cause.cause)
      console.error(`  caused by: ${cause.message}`);
  } else {
    console.error(`[start] ${inspect(err)}`);
  }
}

/** A wildcard bind is reachable on loopback; connecting to the wildcard itself is not portable. */
function loopback(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  return host === '::' || host === '::1' ? '[::1]' : host;
}

function isSet(variable: string): boolean {
  return (process.env[variable] ?? '') !== '';
}

runMain(main, [StackError]);
