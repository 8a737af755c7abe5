import { ensureTemporalCli } from '../../src/dev/temporal-cli';
import { findFreePort } from '../../src/dev/child-process';
import {
  PortInUseError,
  startTemporalDevServer,
  type DevServer,
} from '../../src/dev/temporal-dev-server';
import { sleep } from './clock';

/**
 * The suite's Temporal dev server, with its state in a SQLite file and a port fixed for the
 * whole run, so that it can be stopped (gracefully or with kill -9) and started again with
 * every workflow, timer and task queue it had.
 */
export class TemporalControl {
  private server: DevServer | undefined;

  private constructor(
    private readonly executable: string,
    readonly port: number,
    private readonly dbFilename: string,
    private readonly logFile: string,
  ) {}

  static async start(opts: {
    dbFilename: string;
    logFile: string;
    log: (m: string) => void;
  }): Promise<TemporalControl> {
    const control = new TemporalControl(
      await ensureTemporalCli(opts.log),
      await findFreePort(),
      opts.dbFilename,
      opts.logFile,
    );
    await control.up();
    return control;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Stops the server: SIGTERM (it shuts down in order) or SIGKILL (it just dies). */
  async down(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    if (signal === 'SIGKILL') process.kill(server.pid, 'SIGKILL');
    // stop() sends SIGTERM (harmless to a dying process) and waits for the exit.
    await server.stop();
  }

  /** Starts the server again on the same port and state file; retries while the port frees. */
  async up(): Promise<void> {
    if (this.server) return;
    for (let attempt = 1; ; attempt++) {
      try {
        this.server = await startTemporalDevServer({
          executable: this.executable,
          port: this.port,
          dbFilename: this.dbFilename,
          logFile: this.logFile,
        });
        return;
      } catch (err) {
        if (!(err instanceof PortInUseError) || attempt >= 20) throw err;
        await sleep(500);
      }
    }
  }
}
