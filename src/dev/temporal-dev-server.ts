import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

/** How to run `temporal server start-dev`. */
export interface TemporalDevServerOptions {
  /** Path of the `temporal` CLI (see `ensureTemporalCli`). */
  executable: string;
  /** Address the frontend (and Web UI) bind to; defaults to `127.0.0.1`. */
  ip?: string;
  /** gRPC frontend port. */
  port: number;
  /** Web UI port; when omitted the server runs `--headless`. */
  uiPort?: number;
  /** SQLite file that keeps state across runs; when omitted state lives in memory. */
  dbFilename?: string;
  /** SQLite pragmas (`--sqlite-pragma NAME=VALUE`), e.g. `{ journal_mode: 'wal' }`. */
  sqlitePragmas?: Readonly<Record<string, string>>;
  /** Namespace to create besides `default` (the one workers and clients will use). */
  namespace?: string;
  /** File the server's stdout and stderr are appended to; otherwise only kept for error reports. */
  logFile?: string;
}

/** A running dev server. */
export interface DevServer {
  /** `host:port` of the gRPC frontend, as `TEMPORAL_ADDRESS` takes it. */
  address: string;
  /** Web UI, unless started headless. */
  uiUrl?: string;
  pid: number;
  /** Sends SIGTERM and waits for the exit (SIGKILL after 10 s); safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown before starting when a port the server needs is taken. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(
    readonly host: string,
    readonly port: number,
    /** True when a Temporal frontend answers there, e.g. another dev server. */
    readonly heldByTemporal: boolean,
    options?: { cause?: unknown },
  ) {
    super(
      heldByTemporal
        ? `Port ${port} on ${host} is already used by a running Temporal server (another dev server?).`
        : `Port ${port} on ${host} is already in use by another program.`,
      options,
    );
  }
}

/** Thrown when the server process exits (or cannot be spawned) before it is ready. */
export class TemporalDevServerExitedError extends Error {
  override readonly name = 'TemporalDevServerExitedError';
  constructor(
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    const how =
      signal !== null
        ? `was killed by ${signal} before it was ready`
        : exitCode !== null
          ? `exited with code ${exitCode} before it was ready`
          : `could not be started (${errorMessage(options?.cause)})`;
    super(`The Temporal dev server ${how}.${formatOutput(output)}`, options);
  }
}

/** Thrown when the frontend does not answer within the start-up budget. */
export class TemporalDevServerTimeoutError extends Error {
  override readonly name = 'TemporalDevServerTimeoutError';
  constructor(
    readonly timeoutMs: number,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The Temporal dev server did not become ready within ${timeoutMs / 1000} s.${formatOutput(output)}`,
      options,
    );
  }
}

/** Thrown when the custom search attributes cannot be registered on the running server. */
export class SearchAttributeRegistrationError extends Error {
  override readonly name = 'SearchAttributeRegistrationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const READY_TIMEOUT_MS = 30_000;
const PROBE_CONNECT_TIMEOUT_MS = 2_000;
const RETRY_INTERVAL_MS = 250;
const STOP_GRACE_MS = 10_000;
/** Enough for the last few dozen log lines; older output is dropped. */
const OUTPUT_TAIL_CHARS = 8_000;
const OUTPUT_TAIL_LINES = 30;

type SearchAttributeTypeName = (typeof SEARCH_ATTRIBUTES)[number]['type'];
/** Maps our attribute types to the API's; a new type in SEARCH_ATTRIBUTES fails to compile here. */
const INDEXED_VALUE_TYPE: Record<SearchAttributeTypeName, 'KEYWORD'> = { Keyword: 'KEYWORD' };

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/**
 * Starts `temporal server start-dev` with this project's search attributes and waits until its
 * frontend answers and the namespaces exist.
 *
 * The server runs in its own process group so that Ctrl+C in the terminal does not reach it: the
 * caller decides when it stops (after the workers that use it). If this Node process exits without
 * calling `stop()`, the server is still sent SIGTERM.
 *
 * @throws {@link PortInUseError} when `port` or `uiPort` is taken
 * @throws {@link TemporalDevServerExitedError} when the server exits before it is ready
 * @throws {@link TemporalDevServerTimeoutError} when it is not ready within 30 s
 * @throws {@link SearchAttributeRegistrationError} when the search attributes cannot be set up
 */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const address = `${bracketIpv6(ip)}:${opts.port}`;
  const namespaces = [...new Set(['default', opts.namespace ?? 'default'])];

  await assertPortFree(ip, opts.port, address);
  if (opts.uiPort !== undefined) await assertPortFree(ip, opts.uiPort);
  if (opts.dbFilename !== undefined) {
    await mkdir(path.dirname(path.resolve(opts.dbFilename)), { recursive: true });
  }
  const logStream = opts.logFile === undefined ? undefined : await openLog(opts.logFile);

  const args = buildArgs(opts, ip);
  logStream?.write(`\n--- ${new Date().toISOString()} ${opts.executable} ${args.join(' ')}\n`);
  const child = spawn(opts.executable, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = captureOutput(child, logStream);
  const exited = watchExit(child);
  const stop = stopper(child, exited, logStream);

  try {
    await waitUntilReady(address, namespaces, exited, output);
  } catch (err) {
    await stop();
    throw err;
  }
  if (child.pid === undefined) throw new TemporalDevServerExitedError(null, null, output.text());

  return {
    address,
    uiUrl: opts.uiPort === undefined ? undefined : `http://${browserHost(ip)}:${opts.uiPort}`,
    pid: child.pid,
    stop,
  };
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

function buildArgs(opts: TemporalDevServerOptions, ip: string): string[] {
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(opts.port)];
  if (opts.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  if (opts.dbFilename !== undefined) args.push('--db-filename', opts.dbFilename);
  for (const [name, value] of Object.entries(opts.sqlitePragmas ?? {}))
    args.push('--sqlite-pragma', `${name}=${value}`);
  if (opts.namespace !== undefined) args.push('--namespace', opts.namespace);
  for (const { name, type } of SEARCH_ATTRIBUTES)
    args.push('--search-attribute', `${name}=${type}`);
  return args;
}

async function assertPortFree(host: string, port: number, temporalAddress?: string): Promise<void> {
  if (await isPortFree(host, port)) return;
  const heldByTemporal =
    temporalAddress !== undefined && (await answersAsTemporal(temporalAddress));
  throw new PortInUseError(host, port, heldByTemporal);
}

function isPortFree(host: string, port: number): Promise<boolean> {
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

async function answersAsTemporal(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: PROBE_CONNECT_TIMEOUT_MS });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

async function openLog(file: string): Promise<WriteStream> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const stream = createWriteStream(file, { flags: 'a' });
  // A broken log file must not take the server down with it.
  stream.on('error', () => undefined);
  return stream;
}

/** Keeps the last part of the server's output for error messages, and tees it to the log file. */
function captureOutput(
  child: ChildProcess,
  logStream: WriteStream | undefined,
): { text(): string } {
  let tail = '';
  const onData = (chunk: Buffer): void => {
    logStream?.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  // Always drain the pipes: a full pipe would block the server.
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return { text: () => tail.trimEnd().split('\n').slice(-OUTPUT_TAIL_LINES).join('\n') };
}

function watchExit(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // Spawn failures (e.g. ENOENT) emit 'error' without 'exit'.
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
}

function stopper(child: ChildProcess, exited: Promise<Exit>, logStream: WriteStream | undefined) {
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const killOnExit = (): void => {
    if (!hasExited) child.kill('SIGTERM');
  };
  // Detached, the server would outlive us if we exit without stopping it.
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  return (): Promise<void> => {
    stopping ??= (async () => {
      if (!hasExited) {
        child.kill('SIGTERM');
        const timer = delay(STOP_GRACE_MS, 'timeout' as const, { ref: false });
        if ((await Promise.race([exited, timer])) === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
      }
      process.removeListener('exit', killOnExit);
      logStream?.end();
    })();
    return stopping;
  };
}

async function waitUntilReady(
  address: string,
  namespaces: readonly string[],
  exited: Promise<Exit>,
  output: { text(): string },
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const exitedEarly = exited.then((exit) => ({ exit }));
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new TemporalDevServerTimeoutError(READY_TIMEOUT_MS, output.text(), {
        cause: lastError,
      });
    }
    const attempt = connectWhenReady(
      address,
      namespaces,
      Math.min(remaining, PROBE_CONNECT_TIMEOUT_MS),
    ).then(
      (connection) => ({ connection }),
      (error: unknown) => ({ error }),
    );
    const outcome = await Promise.race([attempt, exitedEarly]);
    if ('exit' in outcome) {
      void attempt.then((a) => ('connection' in a ? a.connection.close() : undefined));
      // Let the last lines of output arrive before quoting them.
      await delay(200);
      const { code, signal, error } = outcome.exit;
      throw new TemporalDevServerExitedError(code, signal, output.text(), { cause: error });
    }
    if ('connection' in outcome) {
      try {
        await registerSearchAttributes(outcome.connection, namespaces);
        return;
      } finally {
        await outcome.connection.close();
      }
    }
    lastError = outcome.error;
    await delay(RETRY_INTERVAL_MS);
  }
}

/** Connects and checks that every namespace is registered: only then can workers poll. */
async function connectWhenReady(
  address: string,
  namespaces: readonly string[],
  connectTimeoutMs: number,
): Promise<Connection> {
  const connection = await Connection.connect({ address, connectTimeout: connectTimeoutMs });
  try {
    for (const namespace of namespaces) {
      await connection.workflowService.describeNamespace({ namespace });
    }
    return connection;
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
}

/**
 * `--search-attribute` only takes effect when the SQLite file is new, so attributes added to
 * SEARCH_ATTRIBUTES after the first run are registered here through the operator API.
 */
async function registerSearchAttributes(
  connection: Connection,
  namespaces: readonly string[],
): Promise<void> {
  for (const namespace of namespaces) {
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace,
      });
      const existing = customAttributes ?? {};
      const missing: Record<string, number> = {};
      for (const { name, type } of SEARCH_ATTRIBUTES) {
        const wanted = encodeSearchAttributeIndexedValueType(INDEXED_VALUE_TYPE[type]);
        if (wanted === undefined)
          throw new Error(`No Temporal type for search attribute type ${type}`);
        const current = existing[name];
        if (current === undefined) missing[name] = wanted;
        else if (current !== wanted) {
          throw new SearchAttributeRegistrationError(
            `Search attribute ${name} already exists in namespace ${namespace} with another type; ` +
              'delete the dev server state file to start afresh.',
          );
        }
      }
      if (Object.keys(missing).length > 0) {
        await connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: missing,
        });
      }
    } catch (err) {
      if (err instanceof SearchAttributeRegistrationError) throw err;
      throw new SearchAttributeRegistrationError(
        `Could not register search attributes in namespace ${namespace}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }
}

function bracketIpv6(ip: string): string {
  return net.isIPv6(ip) ? `[${ip}]` : ip;
}

/** Loopback and wildcard binds are reachable from a local browser as `localhost`. */
function browserHost(ip: string): string {
  return ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost'].includes(ip)
    ? 'localhost'
    : bracketIpv6(ip);
}

function formatOutput(output: string): string {
  return output === '' ? ' It printed nothing.' : `\nLast output:\n${output}`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
