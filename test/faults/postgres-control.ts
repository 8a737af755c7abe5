import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/dev/embedded-postgres';
import { findFreePort } from '../../src/dev/child-process';

/**
 * The suite's own PostgreSQL: an embedded server with its own data directory and port, so that
 * stopping it never touches the machine's shared PostgreSQL. Its port stays the same across
 * restarts, so connection strings stay valid.
 */
export class PostgresControl {
  private running: RunningPostgres | undefined;

  private constructor(
    private readonly dataDir: string,
    readonly port: number,
    readonly database: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts the server on a free port and gives the suite a fresh, empty `database`. */
  static async start(opts: {
    dataDir: string;
    database: string;
    log: (line: string) => void;
  }): Promise<PostgresControl> {
    const control = new PostgresControl(
      opts.dataDir,
      await findFreePort(),
      opts.database,
      opts.log,
    );
    await control.up();
    await control.recreateDatabase();
    return control;
  }

  /** The database's URL straight to the server, bypassing any proxy; `port` overrides it. */
  url(port = this.port): string {
    return `postgres://postgres:postgres@127.0.0.1:${port}/${this.database}`;
  }

  /** Fast shutdown: open transactions are rolled back, clients disconnected. */
  async down(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    await running?.stop();
  }

  /**
   * Immediate shutdown (SIGQUIT to the postmaster): every backend dies at once, nothing is
   * checkpointed, and the next start replays the WAL, as after a crash.
   */
  async crash(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    if (!running) return;
    const pidFile = await readFile(path.join(this.dataDir, 'postmaster.pid'), 'utf8');
    process.kill(Number(pidFile.split('\n')[0]), 'SIGQUIT');
    // Waits for the exit; its own SIGINT reaches a process already on its way out.
    await running.stop();
  }

  async up(): Promise<void> {
    if (this.running) return;
    this.running = await startEmbeddedPostgres({
      dataDir: this.dataDir,
      port: this.port,
      database: 'postgres',
      log: this.log,
    });
  }

  private async recreateDatabase(): Promise<void> {
    const admin = new Client({ connectionString: this.url().replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    try {
      await admin.query(`drop database if exists "${this.database}" with (force)`);
      await admin.query(`create database "${this.database}"`);
    } finally {
      await admin.end();
    }
  }
}
