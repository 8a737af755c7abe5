import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import {
  findFreePort,
  isPortFree,
  serviceBaseEnv,
  spawnEntryPoint,
  type Supervised,
} from '../../src/dev/child-process';
import { startEmbeddedPostgres } from '../../src/dev/embedded-postgres';
import { createScratchDatabase } from '../../src/dev/scratch-database';
import { ensureTemporalCli } from '../../src/dev/temporal-cli';
import { startTemporalDevServer } from '../../src/dev/temporal-dev-server';
import { pollersOf } from '../../src/temporal/pollers';
import { say, sleep } from './support';

export const NAMESPACE = 'default';
const DATABASE = 'faults';
/** Pause before a crashed process is started again, as a process manager would. */
const RESPAWN_DELAY_MS = 1_000;
/** Start-up includes ts-node and, for the worker, bundling the workflows: slow on 2 cores. */
const READY_TIMEOUT_MS = 120_000;

/** A server the faults stop and start again, on the same port and state. */
function restartable<T extends { stop(): Promise<void> }>(launch: () => Promise<T>) {
  let server: T | undefined;
  return {
    up: async (): Promise<void> => {
      server ??= await launch();
    },
    /** `strike` hits the server first (a signal); stop() then waits for the exit. */
    down: async (strike?: (server: T) => unknown): Promise<void> => {
      const current = server;
      server = undefined;
      if (!current) return;
      await strike?.(current);
      await current.stop();
    },
  };
}

/**
 * The suite's own embedded PostgreSQL (the machine's shared one is never stopped), with a fresh,
 * migrated database.
 */
export async function startPostgres(dataDir: string) {
  const port = await findFreePort();
  const url = (p = port, database = DATABASE) =>
    `postgres://postgres:postgres@127.0.0.1:${p}/${database}`;
  const server = restartable(() =>
    startEmbeddedPostgres({ dataDir, port, database: 'postgres', log: () => undefined }),
  );
  await server.up();
  await createScratchDatabase(DATABASE, url(port, 'postgres'));
  return {
    port,
    /** The database's URL straight to the server; `p` names another port (the proxy's). */
    url: (p = port) => url(p),
    up: server.up,
    /** Fast shutdown: open transactions are rolled back, clients disconnected. */
    down: () => server.down(),
    /**
     * SIGQUIT to the postmaster: every backend dies at once, and the next start replays the WAL.
     * Its pid, not the data directory's postmaster.pid: as root from a directory the postgres
     * OS user cannot enter, the cluster is not in `dataDir` (see embedded-postgres.ts).
     */
    crash: () => server.down((s) => process.kill(s.pid, 'SIGQUIT')),
  };
}
export type Postgres = Awaited<ReturnType<typeof startPostgres>>;

/** A Temporal dev server whose state file lets it restart with every workflow it had. */
export async function startTemporal(dbFilename: string, logFile: string) {
  const executable = await ensureTemporalCli(say);
  const port = await findFreePort();
  const server = restartable(async () => {
    // A killed server's port can take a moment to free.
    for (let i = 0; i < 20 && !(await isPortFree('127.0.0.1', port)); i++) await sleep(500);
    return startTemporalDevServer({ executable, port, dbFilename, logFile });
  });
  await server.up();
  return {
    address: `127.0.0.1:${port}`,
    up: server.up,
    /** SIGTERM shuts it down in order; SIGKILL just kills it. */
    down: (signal: 'SIGTERM' | 'SIGKILL') =>
      server.down((s) => signal === 'SIGKILL' && process.kill(s.pid, 'SIGKILL')),
  };
}
export type Temporal = Awaited<ReturnType<typeof startTemporal>>;

/** A client of the suite's own, for the time of `use`. */
export async function withTemporal<T>(
  address: string,
  use: (client: Client) => Promise<T>,
): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    return await use(new Client({ connection, namespace: NAMESPACE }));
  } finally {
    await connection.close();
  }
}

/** Whether the process with this pid does its job yet (listens, polls). */
export type Readiness = (pid: number) => Promise<boolean>;

export const apiReadiness =
  (baseUrl: string): Readiness =>
  async () =>
    (await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) })).ok;

/** Temporal lists the worker (`<pid>@<host>`) among the workflow and the activity pollers. */
export const workerReadiness =
  (address: string, taskQueue: string): Readiness =>
  async (pid) => {
    const connection = await Connection.connect({ address, connectTimeout: 2_000 });
    try {
      const queues = await pollersOf(connection.workflowService, NAMESPACE, taskQueue);
      return queues.every((q) => q.pollers.some((p) => p.identity?.startsWith(`${pid}@`)));
    } finally {
      await connection.close().catch(() => undefined);
    }
  };

export type ProcessFigures = ServiceProcess['figures'];

/** An API or worker run as in production and restarted after a crash, as a process manager would. */
export class ServiceProcess {
  private proc: Supervised | undefined;
  private planned = false;
  private stopping = false;
  private readonly log: WriteStream;
  /**
   * `kills` and `pauses` (graceful stops) by the injector; `unplannedExits` nobody asked for
   * (crash, exit on a lost dependency).
   */
  readonly figures = {
    starts: 0,
    kills: 0,
    pauses: 0,
    unplannedExits: 0,
    exitReasons: [] as string[],
  };

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly env: Record<string, string>,
    runDir: string,
    private readonly ready: Readiness,
  ) {
    const logFile = path.join(runDir, `${name.toLowerCase().replace(' ', '-')}.log`);
    this.log = createWriteStream(logFile, { flags: 'a' }).on('error', () => undefined);
  }

  get pid(): number | undefined {
    return this.proc?.child.pid;
  }

  async start(): Promise<void> {
    this.spawn();
    const deadline = Date.now() + READY_TIMEOUT_MS;
    // A process that crashes while starting is respawned (see spawn) and waited for.
    while (Date.now() < deadline) {
      const proc = this.proc!;
      if (proc.running() && (await this.ready(proc.child.pid!).catch(() => false))) return;
      await sleep(500);
    }
    throw new Error(`${this.name} was not ready within ${READY_TIMEOUT_MS / 1000} s`);
  }

  /** kill -9, then a fresh start: the crash the service must survive. */
  async killAndRestart(pauseMs: number): Promise<void> {
    this.planned = true;
    this.proc?.child.kill('SIGKILL');
    await this.proc?.exited;
    this.figures.kills++;
    await sleep(pauseMs);
    await this.start();
  }

  /** A graceful stop (in-flight work gets 15 s before SIGKILL) that `start()` ends. */
  async pause(): Promise<void> {
    this.planned = true;
    await this.proc?.stop();
    this.figures.pauses++;
  }

  /** Graceful stop at the end: in-flight work gets 15 s before SIGKILL. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.proc?.stop();
    this.log.end();
  }

  private spawn(): void {
    this.planned = false;
    const proc = spawnEntryPoint(this.entry, {
      env: { ...serviceBaseEnv(), ...this.env },
      compiled: true,
      detached: true,
      logFile: this.log,
      stopSignals: [['SIGTERM', 15_000], ['SIGKILL']],
    });
    this.proc = proc;
    this.figures.starts++;
    this.log.write(
      `\n--- ${new Date().toISOString()} start #${this.figures.starts} pid ${proc.child.pid}\n`,
    );
    void proc.exited.then(({ code, signal }) => {
      if (this.planned || this.stopping) return;
      const reason = signal ? `killed by ${signal}` : `exited with code ${code}`;
      this.figures.unplannedExits++;
      this.figures.exitReasons.push(reason);
      say(`${this.name} ${reason} on its own; restarting it`);
      void sleep(RESPAWN_DELAY_MS).then(() => {
        if (!this.stopping && this.proc === proc) this.spawn();
      });
    });
  }
}
