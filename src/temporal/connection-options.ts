import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { loadClientConnectConfig } from '@temporalio/envconfig';

/** The address `npm start` and the dev server use when nothing else is configured. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/** TLS settings in the shape both the client's `Connection` and the worker's `NativeConnection` take. */
export interface TemporalTls {
  /** Name the server certificate must carry when it differs from the address's host. */
  serverNameOverride?: string;
  /** CA that signed the server certificate; the system roots when omitted. */
  serverRootCACertificate?: Buffer;
  /** Client certificate and key, for mTLS. */
  clientCertPair?: { crt: Buffer; key: Buffer };
}

/** Where and how to reach Temporal, as resolved from the environment and an optional TOML profile. */
export interface TemporalConnection {
  address: string;
  namespace: string;
  /** `false` or omitted: plain gRPC; `true`: TLS with the system roots. */
  tls?: TemporalTls | boolean;
  apiKey?: string;
  /** Extra gRPC metadata sent with each call (`TEMPORAL_GRPC_META_*`). */
  metadata?: Record<string, string>;
}

/** One thing wrong with the Temporal settings, named after the variable to fix. */
export interface ConnectionProblem {
  variable: string;
  message: string;
}

/**
 * Resolves the Temporal connection with `@temporalio/envconfig` (environment over the TOML
 * profile) and checks what can be checked before connecting: files exist, certificates and keys
 * parse, the key belongs to the certificate, nothing has expired. Problems are returned, not
 * thrown, so the caller reports them with the rest of the configuration.
 */
export function resolveTemporalConnection(env: Record<string, string>): {
  connection?: TemporalConnection;
  problems: ConnectionProblem[];
} {
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: env });
  } catch (err) {
    return { problems: [describeLoadError(err, env)] };
  }
  const { connectionOptions: o } = loaded;
  const connection: TemporalConnection = {
    address: o.address ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: loaded.namespace ?? 'default',
    ...(o.apiKey !== undefined && { apiKey: o.apiKey as string }),
    // envconfig fills metadata from TOML and TEMPORAL_GRPC_META_* only, which are strings.
    ...(o.metadata &&
      Object.keys(o.metadata).length > 0 && {
        metadata: { ...(o.metadata as Record<string, string>) },
      }),
  };
  const problems: ConnectionProblem[] = [];
  if (typeof o.tls === 'boolean') {
    connection.tls = o.tls;
  } else if (o.tls) {
    const tls: TemporalTls = {};
    if (o.tls.serverNameOverride) tls.serverNameOverride = o.tls.serverNameOverride;
    if (o.tls.serverRootCACertificate) {
      tls.serverRootCACertificate = Buffer.from(o.tls.serverRootCACertificate);
      certificateProblem(tls.serverRootCACertificate, variableFor('SERVER_CA_CERT', env), problems);
    }
    if (o.tls.clientCertPair) {
      tls.clientCertPair = {
        crt: Buffer.from(o.tls.clientCertPair.crt),
        key: Buffer.from(o.tls.clientCertPair.key),
      };
      pairProblems(tls.clientCertPair, env, problems);
    } else if (has(env, 'CLIENT_CERT') !== has(env, 'CLIENT_KEY')) {
      // envconfig silently drops half a pair; a forgotten key must not turn mTLS into plain TLS.
      problems.push({
        variable: has(env, 'CLIENT_CERT')
          ? 'TEMPORAL_TLS_CLIENT_KEY_PATH'
          : 'TEMPORAL_TLS_CLIENT_CERT_PATH',
        message: 'mTLS needs both a client certificate and its key; only one is set',
      });
    }
    connection.tls = tls;
  }
  if (connection.apiKey !== undefined && connection.apiKey.trim() === '') {
    problems.push({ variable: 'TEMPORAL_API_KEY', message: 'is empty' });
  }
  return problems.length ? { problems } : { connection, problems };
}

/** Settings of a connection safe to log: never the key or certificate contents. */
export function describeTemporalConnection(c: TemporalConnection): Record<string, unknown> {
  const tls = typeof c.tls === 'object' ? c.tls : undefined;
  return {
    address: c.address,
    namespace: c.namespace,
    tls: c.tls ? (tls?.clientCertPair ? 'mtls' : 'tls') : 'off',
    ...(tls?.serverNameOverride && { tls_server_name: tls.serverNameOverride }),
    api_key: c.apiKey ? 'set' : 'none',
  };
}

const has = (env: Record<string, string>, what: string): boolean =>
  `TEMPORAL_TLS_${what}_PATH` in env || `TEMPORAL_TLS_${what}_DATA` in env;

/** The variable that set a TLS item, or the TOML file when no variable did. */
function variableFor(what: string, env: Record<string, string>): string {
  if (`TEMPORAL_TLS_${what}_PATH` in env) return `TEMPORAL_TLS_${what}_PATH`;
  if (`TEMPORAL_TLS_${what}_DATA` in env) return `TEMPORAL_TLS_${what}_DATA`;
  return `TEMPORAL_CONFIG_FILE (tls.${what.toLowerCase()})`;
}

function certificateProblem(
  pem: Buffer,
  variable: string,
  problems: ConnectionProblem[],
): X509Certificate | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    problems.push({ variable, message: 'is not a PEM certificate' });
    return undefined;
  }
  if (Date.parse(cert.validTo) < Date.now()) {
    problems.push({ variable, message: `certificate ${cert.subject} expired on ${cert.validTo}` });
  }
  return cert;
}

function pairProblems(
  pair: { crt: Buffer; key: Buffer },
  env: Record<string, string>,
  problems: ConnectionProblem[],
): void {
  const cert = certificateProblem(pair.crt, variableFor('CLIENT_CERT', env), problems);
  let key: KeyObject;
  try {
    key = createPrivateKey(pair.key);
  } catch {
    problems.push({
      variable: variableFor('CLIENT_KEY', env),
      message: 'is not an unencrypted PEM private key',
    });
    return;
  }
  if (cert && !cert.checkPrivateKey(key)) {
    problems.push({
      variable: variableFor('CLIENT_KEY', env),
      message: `is not the key of the client certificate (${cert.subject.replace(/\n/g, ', ')})`,
    });
  }
}

function describeLoadError(err: unknown, env: Record<string, string>): ConnectionProblem {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT' || e?.code === 'EACCES') {
    // A certificate or key path: name the variable that holds it.
    const variable =
      Object.entries(env).find(([k, v]) => k.startsWith('TEMPORAL_') && v === e.path)?.[0] ??
      'TEMPORAL_CONFIG_FILE';
    return { variable, message: `cannot read ${e.path}: ${e.code}` };
  }
  const message = e instanceof Error ? e.message : String(err);
  return {
    variable: /profile/i.test(message) ? 'TEMPORAL_PROFILE' : 'TEMPORAL_CONFIG_FILE',
    message,
  };
}

/** Options for `Connection` (client) and `NativeConnection` (worker): both take this shape. */
export function connectionOptions(c: TemporalConnection): {
  address: string;
  tls?: TemporalTls | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
} {
  return {
    address: c.address,
    ...(c.tls !== undefined && { tls: c.tls }),
    ...(c.apiKey !== undefined && { apiKey: c.apiKey }),
    ...(c.metadata && { metadata: c.metadata }),
  };
}

/** Thrown at start when Temporal cannot be reached with the configured settings. */
export class TemporalConnectError extends Error {
  override readonly name = 'TemporalConnectError';
  constructor(connection: TemporalConnection, cause: unknown) {
    const d = describeTemporalConnection(connection);
    super(
      `Cannot connect to Temporal at ${connection.address} (namespace ${connection.namespace}, ` +
        `TLS ${String(d.tls)}, API key ${String(d.api_key)}): ${causeMessage(cause)}\n` +
        'Check TEMPORAL_ADDRESS, TEMPORAL_API_KEY and the TEMPORAL_TLS_* variables ' +
        '(or the TEMPORAL_CONFIG_FILE profile).',
      { cause },
    );
  }
}

/**
 * Runs the first connection of a process once and turns a failure into one clear error: a wrong
 * key or certificate will not fix itself, so retrying would only hammer the server.
 */
export async function connectOnce<T>(
  connection: TemporalConnection,
  connect: () => Promise<T>,
): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    throw new TemporalConnectError(connection, err);
  }
}

function causeMessage(err: unknown): string {
  const messages: string[] = [];
  for (let e = err; e instanceof Error && messages.length < 4; e = e.cause) {
    messages.push(e.message);
  }
  return messages.join(': ') || String(err);
}
