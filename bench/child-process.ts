import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { BenchProcessExitedError } from './errors';

/** The project root: children run from here so that their relative requires resolve. */
export const ROOT = path.resolve(__dirname, '..');

const OUTPUT_TAIL_CHARS = 6_000;

/** A TypeScript entry point running in its own Node process, as it would in production. */
export interface NodeChild {
  readonly name: string;
  readonly pid: number;
  /** Rejects with {@link BenchProcessExitedError} if the process exits before `stop()`. */
  readonly unexpectedExit: Promise<never>;
  /** The last lines it printed, for error messages. */
  outputTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
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
  const logStream = createWriteStream(opts.logFile, { flags: 'a' });
  logStream.on('error', () => undefined);
  const env: Record<string, string> = { ...opts.env };
  for (const keep of ['PATH', 'HOME', 'TMPDIR', 'TEMPORAL_CLI_PATH']) {
    const value = process.env[keep];
    if (value !== undefined) env[keep] = value;
  }
  const child: ChildProcess = spawn(
    process.execPath,
    [...(opts.nodeFlags ?? []), '-r', 'ts-node/register/transpile-only', entry],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let tail = '';
  const onData = (chunk: Buffer): void => {
    logStream.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  let stopping = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const unexpectedExit = exited.then(({ code, signal }) => {
    if (stopping) return new Promise<never>(() => undefined);
    throw new BenchProcessExitedError(name, code, signal, tail.trimEnd());
  });
  // Callers race against it; an unobserved rejection must not crash the bench on its own.
  unexpectedExit.catch(() => undefined);
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  return {
    name,
    pid: child.pid ?? -1,
    unexpectedExit,
    outputTail: () => tail.trimEnd(),
    stop(graceMs = 15_000) {
      stopped ??= (async () => {
        stopping = true;
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const outcome = await Promise.race([exited, delay(graceMs, 'timeout' as const)]);
          if (outcome === 'timeout') {
            child.kill('SIGKILL');
            await exited;
          }
        }
        process.removeListener('exit', killOnExit);
        await new Promise<void>((resolve) => logStream.end(resolve));
      })();
      return stopped;
    },
  };
}
