import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import {
  errorMessage,
  isPortFree,
  StackError,
  supervise,
  type Exit,
  type Supervised,
} from './child-process';

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
export class PortInUseError extends StackError {
  constructor(
    readonly host: string,
    readonly port: number,
    /** True when a Temporal frontend answers there, e.g. another dev server. */
    readonly heldByTemporal: boolean,
  ) {
    super(
      heldByTemporal
        ? `Port ${port} on ${host} is already used by a running Temporal server (another dev server?).`
        : `Port ${port} on ${host} is already in use by another program.`,
    );
  }
}

/** Thrown when the server process exits (or cannot be spawned) before it is ready. */
export class TemporalDevServerExitedError extends StackError {
  constructor(exit: Exit, output: string) {
    const how =
      exit.signal !== null
        ? `was killed by ${exit.signal} before it was ready`
        : exit.code !== null
          ? `exited with code ${exit.code} before it was ready`
          : `could not be started (${errorMessage(exit.error)})`;
    super(`The Temporal dev server ${how}.`, output, { cause: exit.error });
  }
}

/** Thrown when the frontend does not answer within the start-up budget. */
export class TemporalDevServerTimeoutError extends StackError {
  constructor(timeoutMs: number, output: string, options?: { cause?: unknown }) {
    super(
      `The Temporal dev server did not become ready within ${timeoutMs / 1000} s.`,
      output,
      options,
    );
  }
}

/** Thrown when the custom search attributes cannot be registered on the running server. */
export class SearchAttributeRegistrationError extends StackError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, '', options);
  }
}

const READY_TIMEOUT_MS = 30_000;
const PROBE_CONNECT_TIMEOUT_MS = 2_000;
const RETRY_INTERVAL_MS = 250;

type SearchAttributeTypeName = (typeof SEARCH_ATTRIBUTES)[number]['type'];
/** Maps our attribute types to the API's; a new type in SEARCH_ATTRIBUTES fails to compile here. */
const INDEXED_VALUE_TYPE: Record<SearchAttributeTypeName, 'KEYWORD'> = { Keyword: 'KEYWORD' };

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
  const args = buildArgs(opts, ip);
  const server = supervise(
    spawn(opts.executable, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }),
    { logFile: opts.logFile },
  );
  try {
    await waitUntilReady(address, namespaces, server);
  } catch (err) {
    await server.stop();
    throw err;
  }
  const { child, stop } = server;
  if (child.pid === undefined) throw new TemporalDevServerExitedError(await server.exited, '');

  return {
    address,
    uiUrl: opts.uiPort === undefined ? undefined : `http://${browserHost(ip)}:${opts.uiPort}`,
    pid: child.pid,
    stop,
  };
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

async function waitUntilReady(
  address: string,
  namespaces: readonly string[],
  server: Supervised,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const exitedEarly = server.exited.then((exit) => ({ exit }));
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new TemporalDevServerTimeoutError(READY_TIMEOUT_MS, server.output(), {
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
      throw new TemporalDevServerExitedError(outcome.exit, server.output());
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
