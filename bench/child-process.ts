import { PROJECT_ROOT, spawnEntryPoint } from '../src/dev/child-process';
import { BenchProcessExitedError } from './errors';

/** The project root: children run from here so that their relative requires resolve. */
export const ROOT = PROJECT_ROOT;

/** A TypeScript entry point running in its own Node process, as it would in production. */
export interface NodeChild {
  readonly name: string;
  readonly pid: number;
  /** Rejects with {@link BenchProcessExitedError} if the process exits before `stop()`. */
  readonly unexpectedExit: Promise<never>;
  /** The last lines it printed, for error messages. */
  outputTail(): string;
  /** SIGTERM, then SIGKILL after 15 s; resolves when it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Runs `node [flags] -r ts-node/register/transpile-only <entry>` with `env`, its output appended
 * to `logFile`. The environment is built from scratch but for PATH and HOME, so the caller's own
 * DATABASE_URL or LOG_LEVEL cannot leak into the measurement.
 */
export function spawnNodeChild(
  name: string,
  entry: string,
  opts: { env: Record<string, string>; nodeFlags?: readonly string[]; logFile: string },
): NodeChild {
  const env: Record<string, string> = { ...opts.env };
  for (const keep of ['PATH', 'HOME', 'TMPDIR', 'TEMPORAL_CLI_PATH']) {
    const value = process.env[keep];
    if (value !== undefined) env[keep] = value;
  }
  const child = spawnEntryPoint(entry, {
    env,
    nodeFlags: opts.nodeFlags,
    logFile: opts.logFile,
    tailLines: 80,
    stopSignals: [['SIGTERM', 15_000], ['SIGKILL']],
  });
  let stopping = false;
  const unexpectedExit = child.exited.then(({ code, signal }) => {
    if (stopping) return new Promise<never>(() => undefined);
    throw new BenchProcessExitedError(name, code, signal, child.output());
  });
  // Callers race against it; an unobserved rejection must not crash the bench on its own.
  unexpectedExit.catch(() => undefined);
  return {
    name,
    pid: child.child.pid ?? -1,
    unexpectedExit,
    outputTail: () => child.output(),
    stop() {
      stopping = true;
      return child.stop();
    },
  };
}
