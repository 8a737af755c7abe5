import type { ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { spawnEntryPoint } from '../../src/dev/child-process';
import { say, sleep } from './clock';

/** How long a stopped service gets to finish in-flight work before it is killed. */
const STOP_GRACE_MS = 15_000;
/** Pause before a crashed process is started again, as a process manager would. */
const RESPAWN_DELAY_MS = 1_000;
/** Start-up includes ts-node and, for the worker, bundling the workflows: slow on 2 cores. */
const READY_TIMEOUT_MS = 120_000;

/**
 * Resolves once the process with this pid does its job (listens, polls). Polls until `signal`
 * aborts; the supervisor bounds the wait.
 */
export type Readiness = (pid: number, signal: AbortSignal) => Promise<void>;

/** What happened to one process over the run. */
export interface ProcessFigures {
  starts: number;
  /** kill -9 sent by the fault injector. */
  kills: number;
  /** Exits nobody asked for: crashes, `process.exit` on a lost dependency. */
  unplannedExits: number;
  exitReasons: string[];
}

/**
 * One service process run as in production (`node -r ts-node/register/transpile-only <entry>`,
 * configured only by its environment), supervised like a process manager would: a crash is
 * counted and followed by a restart. Output goes to a log file per process.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private planned = false;
  private stopping = false;
  private readonly log: WriteStream;
  readonly figures: ProcessFigures = { starts: 0, kills: 0, unplannedExits: 0, exitReasons: [] };

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly env: Record<string, string>,
    logFile: string,
    private readonly readiness: Readiness,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
    this.log.on('error', () => undefined);
    // A killed suite must not leave services behind.
    process.once('exit', () => this.child?.kill('SIGKILL'));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the process and waits until it is ready. */
  async start(): Promise<void> {
    this.spawnChild();
    await this.waitReady();
  }

  /** kill -9, then a fresh start: the crash the service must survive. */
  async killAndRestart(pauseMs = 0): Promise<void> {
    await this.kill('SIGKILL');
    this.figures.kills++;
    await sleep(pauseMs);
    await this.start();
  }

  /** Graceful stop at the end of the run (SIGTERM, SIGKILL after the grace time). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.isRunning()) return;
    const timer = sleep(STOP_GRACE_MS).then(() => 'timeout' as const);
    this.child?.kill('SIGTERM');
    if ((await Promise.race([this.exited, timer])) === 'timeout') await this.kill('SIGKILL');
    this.log.end();
  }

  private async kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.isRunning()) return;
    this.planned = true;
    this.child?.kill(signal);
    await this.exited;
  }

  private isRunning(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  private spawnChild(): void {
    this.planned = false;
    const { child, exited } = spawnEntryPoint(this.entry, {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...this.env },
      detached: true,
      logFile: this.log,
    });
    this.child = child;
    this.figures.starts++;
    this.log.write(
      `\n--- ${new Date().toISOString()} start #${this.figures.starts} pid ${child.pid}\n`,
    );
    this.exited = exited.then(({ code, signal }) => {
      if (!this.planned && !this.stopping) this.onCrash(code, signal);
    });
  }

  private onCrash(code: number | null, signal: NodeJS.Signals | null): void {
    const reason = signal ? `killed by ${signal}` : `exited with code ${code}`;
    this.figures.unplannedExits++;
    this.figures.exitReasons.push(reason);
    say(`${this.name} ${reason} on its own; restarting it`);
    void sleep(RESPAWN_DELAY_MS).then(() => {
      if (!this.stopping && !this.isRunning()) this.spawnChild();
    });
  }

  /** Waits for readiness; a process that crashes while starting is respawned and waited for. */
  private async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const pid = this.child?.pid;
      if (pid !== undefined && this.isRunning()) {
        const abort = new AbortController();
        const outcome = await Promise.race([
          this.readiness(pid, abort.signal).then(() => 'ready' as const),
          this.exited.then(() => 'exited' as const),
          sleep(deadline - Date.now()).then(() => 'timeout' as const),
        ]).finally(() => abort.abort());
        if (outcome === 'ready') return;
      }
      await sleep(RESPAWN_DELAY_MS + 250);
    }
    throw new Error(`${this.name} was not ready within ${READY_TIMEOUT_MS / 1000} s`);
  }
}
