import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { compileProject } from './compile';
import { heapLimitFlags } from './heap-limits';

/** Where supervised processes are registered so that they do not outlive their runner. */
export interface Watchdog {
  /** Stop `pid` with `signal` should the runner die first. */
  watch(pid: number, signal: NodeJS.Signals): void;
  /** `pid` exited, or the runner stopped it. */
  forget(pid: number): void;
}

/**
 * What every part of a local stack throws when it cannot start or run: its message says what
 * went wrong and what to do, so no stack trace is needed, and it ends with the last lines the
 * process printed, if any.
 */
export class StackError extends Error {
  constructor(
    message: string,
    /** The last lines the process printed; empty when there was no process or no output. */
    readonly output = '',
    options?: { cause?: unknown },
  ) {
    super(output === '' ? message : `${message}\nLast output:\n${output}`, options);
    this.name = new.target.name;
  }
}

/** How a child process ended: an exit code, a signal, or a failure to spawn at all. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** A child process watched: its exit, the tail of its output, and a way to stop it. */
export interface Supervised {
  readonly child: ChildProcess;
  /** Settles when the process exits or could not be spawned; never rejects. */
  readonly exited: Promise<Exit>;
  /** Whether it is still running. */
  running(): boolean;
  /** The last lines it printed (stdout and stderr together). */
  output(): string;
  /**
   * Sends each signal of `stopSignals` in turn, waiting its grace period, until the process has
   * exited; resolves then. Safe to call twice.
   */
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  /**
   * Appends the output to this file (directories are created), or to a stream the caller keeps
   * open across several processes; otherwise only the tail is kept.
   */
  logFile?: string | WriteStream;
  /** Signals to stop with, each with how long to wait for the exit; default SIGTERM for 10 s, then SIGKILL. */
  stopSignals?: readonly (readonly [NodeJS.Signals, number?])[];
  /** How many of the last lines `output()` returns. */
  tailLines?: number;
  /** Receives each complete, non-empty line the process prints. */
  onLine?: (line: string) => void;
  /**
   * Told of the process while it runs, so that it is stopped (with the first stop signal)
   * should this Node process die without stopping it: see `stack-watchdog.ts`.
   */
  watchdog?: Watchdog;
}

const DEFAULT_STOP: readonly (readonly [NodeJS.Signals, number?])[] = [
  ['SIGTERM', 10_000],
  ['SIGKILL'],
];
const TAIL_CHARS = 8_000;

/**
 * Watches a spawned process (spawn it with stdout and stderr piped): drains and keeps its output,
 * tees it to a log file, and sends it the first stop signal if this Node process exits first,
 * since a detached child would outlive it.
 */
export function supervise(child: ChildProcess, options: SuperviseOptions = {}): Supervised {
  const stopSignals = options.stopSignals ?? DEFAULT_STOP;
  const ownLog = typeof options.logFile === 'string';
  const log = typeof options.logFile === 'string' ? openLog(options.logFile) : options.logFile;
  let tail = '';
  let partial = '';
  const onData = (chunk: Buffer): void => {
    log?.write(chunk);
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-TAIL_CHARS);
    if (options.onLine) {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') options.onLine(line);
    }
  };
  // Always drain the pipes: a full pipe would block the child.
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  let hasExited = false;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // Spawn failures (ENOENT, EACCES) emit 'error' without 'exit'.
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  }).then((exit) => {
    hasExited = true;
    if (child.pid !== undefined) options.watchdog?.forget(child.pid);
    log?.write(`--- exit code ${exit.code} signal ${exit.signal}\n`);
    return exit;
  });
  if (child.pid !== undefined) options.watchdog?.watch(child.pid, stopSignals[0]![0]);
  const onOurExit = (): void => {
    if (!hasExited) child.kill(stopSignals[0]![0]);
  };
  process.once('exit', onOurExit);
  void exited.then(() => process.removeListener('exit', onOurExit));

  let stopping: Promise<void> | undefined;
  return {
    child,
    exited,
    running: () => !hasExited,
    output: () => lastLines(tail, options.tailLines),
    stop() {
      stopping ??= (async () => {
        for (const [signal, graceMs] of stopSignals) {
          if (hasExited) break;
          child.kill(signal);
          if (graceMs === undefined) await exited;
          else await Promise.race([exited, delay(graceMs, undefined, { ref: false })]);
        }
        if (ownLog) await new Promise<void>((resolve) => log!.end(resolve));
      })();
      return stopping;
    },
  };
}

function openLog(file: string): WriteStream {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const stream = createWriteStream(file, { flags: 'a' });
  // A broken log file must not take the process down with it.
  stream.on('error', () => undefined);
  return stream;
}

/** The project root: entry points run from here, so their relative requires resolve. */
export const PROJECT_ROOT = path.resolve(__dirname, '../..');

/** Where `compiled` entry points run from: the project's TypeScript as JavaScript. */
export const COMPILED_DIR = path.join(PROJECT_ROOT, '.data', 'build');

/**
 * Runs one of the project's TypeScript entry points (`src/server.ts`, `src/worker.ts`) in a Node
 * process of its own, configured only by `env`, as in production, and supervises it. `compiled`
 * runs it as plain JavaScript, compiled first where the source changed (see compile.ts), as the
 * production image does; otherwise under ts-node. `detached` gives it a process group of its
 * own, so that Ctrl+C in a terminal reaches it only through whoever stops it. A service runs
 * under its heap ceiling (heap-limits.ts); `nodeFlags` come after it and may override it.
 */
export function spawnEntryPoint(
  entry: string,
  options: SuperviseOptions & {
    env: NodeJS.ProcessEnv;
    nodeFlags?: readonly string[];
    /** The entry point's own command line. */
    args?: readonly string[];
    detached?: boolean;
    compiled?: boolean;
    /** Print straight to this process's stdout and stderr instead of keeping the output. */
    inheritOutput?: boolean;
  },
): Supervised {
  const output = options.inheritOutput ? 'inherit' : 'pipe';
  const args = [...heapLimitFlags(entry), ...(options.nodeFlags ?? [])];
  if (options.compiled) {
    compileProject(PROJECT_ROOT, COMPILED_DIR);
    args.push('--enable-source-maps', path.join(COMPILED_DIR, entry.replace(/\.ts$/, '.js')));
  } else {
    args.push('-r', 'ts-node/register/transpile-only', entry);
  }
  args.push(...(options.args ?? []));
  const child = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    env: options.env,
    detached: options.detached ?? false,
    stdio: ['ignore', output, output],
  });
  return supervise(child, options);
}

/**
 * The environment a service process starts from when a runner configures it from scratch, so
 * that the runner's own DATABASE_URL or LOG_LEVEL cannot leak in.
 */
export function serviceBaseEnv(): NodeJS.ProcessEnv {
  const { PATH, HOME, TMPDIR, TEMPORAL_CLI_PATH } = process.env;
  return { PATH, HOME, TMPDIR, TEMPORAL_CLI_PATH };
}

/** Whether nothing listens on `host:port` right now. */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    });
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * Asks the OS for a currently unused TCP port (by listening on port 0), for tests and experiments
 * that need a server of their own. Another process may take it before you bind it.
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const bound = server.address();
      server.close(() => {
        if (bound !== null && typeof bound === 'object') resolve(bound.port);
        else reject(new Error(`Could not read the port bound on ${host}`));
      });
    });
  });
}

/** The last `count` lines of a process's output or a tool's report, for error messages. */
export function lastLines(text: string, count = 30): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** "exited with code 1", "was killed by SIGKILL" or "could not be started (...)". */
export function describeExit(exit: Exit): string {
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  if (exit.code !== null) return `exited with code ${exit.code}`;
  return `could not be started (${errorMessage(exit.error)})`;
}

/**
 * Runs `probe` until it succeeds, giving up when the process exits, when `probe` throws a
 * StackError (a failure that waiting will not fix), or after `timeoutMs`.
 */
export async function waitUntilReady<T>(
  server: Supervised,
  name: string,
  probe: (attemptTimeoutMs: number) => Promise<T>,
  opts: { timeoutMs?: number; exitHint?: (output: string) => string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const exited = server.exited.then((exit) => ({ exit }));
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new StackError(
        `${name} was not ready within ${timeoutMs / 1000} s (${errorMessage(lastError)}).`,
        server.output(),
        { cause: lastError },
      );
    }
    const attempt = probe(Math.min(remaining, 2_000)).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    const outcome = await Promise.race([attempt, exited]);
    if ('exit' in outcome) {
      await delay(200); // the last lines of output are still on their way
      const output = server.output();
      throw new StackError(
        `${name} ${describeExit(outcome.exit)} before it was ready.${opts.exitHint?.(output) ?? ''}`,
        output,
        { cause: outcome.exit.error },
      );
    }
    if ('value' in outcome) return outcome.value;
    if (outcome.error instanceof StackError) throw outcome.error;
    lastError = outcome.error;
    await delay(250);
  }
}

/** Waits until `url` answers 200, as `waitUntilReady` waits: for the API's `/health` or `/ready`. */
export function waitForHttp(
  server: Supervised,
  name: string,
  url: string,
  timeoutMs = 60_000,
): Promise<void> {
  return waitUntilReady(
    server,
    name,
    async (attemptMs) => {
      const res = await fetch(url, { signal: AbortSignal.timeout(attemptMs) });
      await res.body?.cancel();
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
    },
    { timeoutMs },
  );
}
