import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTE_KEYS, SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import {
  errorMessage,
  isPortFree,
  StackError,
  supervise,
  waitUntilReady,
  type Watchdog,
} from './child-process';

/**
 * Dynamic configuration every dev server of ours runs with: task queue fairness, so that one
 * user's flood of workflows cannot hold back another user's (the service starts each run with
 * its user as fairness key). Fairness orders tasks within a task queue partition, and a task
 * in another of the default four partitions may wait behind a whole flood in its own; a server
 * of one process gains nothing from four, so it runs one. A production Temporal needs fairness
 * too (see docs/deployment.md).
 */
export const DEV_SERVER_DYNAMIC_CONFIG: readonly string[] = [
  'matching.useNewMatcher=true',
  'matching.enableFairness=true',
  'matching.numTaskqueueReadPartitions=1',
  'matching.numTaskqueueWritePartitions=1',
];

/** `--dynamic-config-value` arguments of `temporal server start-dev` for the settings above. */
export const devServerDynamicConfigArgs = (): string[] =>
  DEV_SERVER_DYNAMIC_CONFIG.flatMap((setting) => ['--dynamic-config-value', setting]);

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
  /** Namespace to create besides `default`. */
  namespace?: string;
  /** File the server's output is appended to; otherwise only kept for error reports. */
  logFile?: string;
  /** Stops the server should the caller die without stopping it (see `stack-watchdog.ts`). */
  watchdog?: Watchdog;
}

/** A running dev server. */
export interface DevServer {
  /** `host:port` of the gRPC frontend, as `TEMPORAL_ADDRESS` takes it. */
  address: string;
  /** Web UI, unless started headless. */
  uiUrl?: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 10 s; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` with this project's search attributes and waits until its
 * frontend answers and the namespaces exist. `@temporalio/testing`'s `createLocal` does not
 * fit here: runs kill this server with SIGKILL, restart it on the same state file, and must
 * register attributes added since that file was made.
 *
 * The server runs in its own process group so that Ctrl+C in the terminal does not reach it: the
 * caller stops it after the workers that use it.
 *
 * @throws {@link StackError} when a port is taken or the server does not become ready
 */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const address = `${net.isIPv6(ip) ? `[${ip}]` : ip}:${opts.port}`;
  const namespaces = [...new Set(['default', opts.namespace ?? 'default'])];
  for (const port of [opts.port, opts.uiPort]) {
    if (port === undefined || (await isPortFree(ip, port))) continue;
    throw new StackError(
      `Port ${port} on ${ip} is already in use: is another \`npm start\` or Temporal server ` +
        'running? Stop it, or point TEMPORAL_ADDRESS at a running Temporal server.',
    );
  }
  if (opts.dbFilename !== undefined) {
    await mkdir(path.dirname(path.resolve(opts.dbFilename)), { recursive: true });
  }
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(opts.port)];
  args.push(...(opts.uiPort === undefined ? ['--headless'] : ['--ui-port', String(opts.uiPort)]));
  if (opts.dbFilename !== undefined) args.push('--db-filename', opts.dbFilename);
  for (const [name, value] of Object.entries(opts.sqlitePragmas ?? {}))
    args.push('--sqlite-pragma', `${name}=${value}`);
  if (opts.namespace !== undefined) args.push('--namespace', opts.namespace);
  for (const { name, type } of SEARCH_ATTRIBUTES)
    args.push('--search-attribute', `${name}=${type}`);
  args.push(...devServerDynamicConfigArgs());

  const server = supervise(
    spawn(opts.executable, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] }),
    { logFile: opts.logFile, watchdog: opts.watchdog },
  );
  try {
    await waitUntilReady(server, 'The Temporal dev server', async (connectTimeout) => {
      const connection = await Connection.connect({ address, connectTimeout });
      try {
        // Workers can poll only once every namespace is registered.
        for (const namespace of namespaces)
          await connection.workflowService.describeNamespace({ namespace });
        for (const namespace of namespaces) await registerSearchAttributes(connection, namespace);
      } finally {
        await connection.close().catch(() => undefined);
      }
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    address,
    uiUrl: opts.uiPort === undefined ? undefined : `http://${browserHost(ip)}:${opts.uiPort}`,
    pid: server.child.pid!,
    stop: server.stop,
  };
}

/**
 * `--search-attribute` only takes effect when the SQLite file is new, so attributes added to
 * SEARCH_ATTRIBUTES after the first run are registered here through the operator API.
 */
async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const fail = (why: string, cause?: unknown) =>
    new StackError(`Search attributes in namespace ${namespace}: ${why}`, '', { cause });
  const listed = await connection.operatorService
    .listSearchAttributes({ namespace })
    .catch((err: unknown) => Promise.reject(fail(errorMessage(err), err)));
  const existing = listed.customAttributes ?? {};
  const missing: Record<string, number> = {};
  for (const { name, type } of SEARCH_ATTRIBUTE_KEYS) {
    const wanted = encodeSearchAttributeIndexedValueType(type)!;
    if (existing[name] === undefined) missing[name] = wanted;
    else if (existing[name] !== wanted) {
      throw fail(`${name} exists with another type; delete the dev server state file.`);
    }
  }
  if (Object.keys(missing).length === 0) return;
  await connection.operatorService
    .addSearchAttributes({ namespace, searchAttributes: missing })
    .catch((err: unknown) => Promise.reject(fail(errorMessage(err), err)));
}

/** Loopback and wildcard binds are reachable from a local browser as `localhost`. */
function browserHost(ip: string): string {
  if (['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost'].includes(ip)) return 'localhost';
  return net.isIPv6(ip) ? `[${ip}]` : ip;
}
