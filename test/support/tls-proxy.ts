import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../../src/dev/child-process';

/** The name the proxy's certificate carries; clients reach it by IP, so they override the name. */
export const PROXY_SERVER_NAME = 'temporal.test';

/** Certificates a test made: a CA and what it signed, plus a client pair from a CA nobody trusts. */
export interface TestCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  rogueClientCert: string;
  rogueClientKey: string;
}

const openssl = (dir: string, args: string[]): void => {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
};

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
  ]); // prettier-ignore
}

function makeLeaf(dir: string, name: string, ca: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`,
  ]); // prettier-ignore
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`,
  ]); // prettier-ignore
}

/** A CA, a server certificate for `PROXY_SERVER_NAME`, and client certificates, in a temp dir. */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'temporal-tls-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  makeLeaf(
    dir,
    'server',
    'ca',
    `subjectAltName=DNS:${PROXY_SERVER_NAME}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
  );
  const client = 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n';
  makeLeaf(dir, 'client', 'ca', client);
  makeLeaf(dir, 'rogue-client', 'rogue-ca', client);
  const at = (f: string) => join(dir, f);
  return {
    dir,
    caCert: at('ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    rogueClientCert: at('rogue-client.crt'),
    rogueClientKey: at('rogue-client.key'),
  };
}

/** nginx terminating TLS in front of the dev server, one port per way of authenticating. */
export interface TlsProxy {
  /** TLS only. */
  tlsAddress: string;
  /** TLS, and a client certificate signed by the test CA is required. */
  mtlsAddress: string;
  /** TLS, and `authorization: Bearer <apiKey>` is required on every call. */
  apiKeyAddress: string;
  apiKey: string;
  /** Requests nginx saw on a port so far (to tell a retry storm from a clean failure). */
  requestCount(address: string): number;
  stop(): Promise<void>;
}

/**
 * Starts nginx (`grpc_pass`) with its own prefix, configuration and logs in a temp folder, on free
 * loopback ports, forwarding to `upstream` (the dev server's plain gRPC port).
 */
export async function startTlsProxy(
  certs: TestCertificates,
  upstream: string,
  apiKey = 'test-api-key-0123456789',
): Promise<TlsProxy> {
  const prefix = join(certs.dir, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const [tlsPort, mtlsPort, apiKeyPort] = [
    await findFreePort(),
    await findFreePort(),
    await findFreePort(),
  ];
  const server = (port: number, extra: string) => `
    server {
      listen 127.0.0.1:${port} ssl http2;
      ssl_certificate ${certs.serverCert};
      ssl_certificate_key ${certs.serverKey};
      access_log ${join(prefix, 'logs', `${port}.log`)} short;
      ${extra}
      location / {
        grpc_pass grpc://${upstream};
        # Long polls last about a minute.
        grpc_read_timeout 300s;
        grpc_send_timeout 300s;
      }
    }`;
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `
daemon off;
master_process off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} warn;
events { worker_connections 256; }
http {
  log_format short '$status $request_uri';
  client_body_temp_path ${join(prefix, 'body')};
  proxy_temp_path ${join(prefix, 'proxy')};
  fastcgi_temp_path ${join(prefix, 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'uwsgi')};
  scgi_temp_path ${join(prefix, 'scgi')};
  # One connection carries all of a worker's calls; do not close it after 1,000 of them.
  keepalive_requests 1000000;
  keepalive_timeout 600s;
  ${server(tlsPort, '')}
  ${server(mtlsPort, `ssl_client_certificate ${certs.caCert};\n      ssl_verify_client on;`)}
  ${server(
    apiKeyPort,
    // Refused as Temporal Cloud refuses a bad key: a gRPC UNAUTHENTICATED (16) status.
    `if ($http_authorization != "Bearer ${apiKey}") { return 418; }
      error_page 418 = @unauthenticated;
      location @unauthenticated {
        default_type application/grpc;
        add_header grpc-status 16 always;
        add_header grpc-message "invalid API key" always;
        return 204;
      }`,
  )}
}
`,
  );
  const child: ChildProcess = spawn(
    'nginx',
    ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'logs', 'error.log')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // Not installed: reported by waitForPort; without a listener the error would crash jest.
  child.once('error', (err) => (stderr += err.message));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (const port of [tlsPort, mtlsPort, apiKeyPort]) {
    await waitForPort(port, child, () => stderr);
  }
  const address = (port: number) => `127.0.0.1:${port}`;
  return {
    tlsAddress: address(tlsPort),
    mtlsAddress: address(mtlsPort),
    apiKeyAddress: address(apiKeyPort),
    apiKey,
    requestCount(addr) {
      const port = addr.split(':').pop();
      try {
        return readFileSync(join(prefix, 'logs', `${port}.log`), 'utf8')
          .split('\n')
          .filter(Boolean).length;
      } catch {
        return 0;
      }
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Removes the certificates and nginx's folder. */
export function removeTestCertificates(certs: TestCertificates): void {
  rmSync(certs.dir, { recursive: true, force: true });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.pid === undefined) {
      throw new Error(
        'nginx could not be started: these tests need it (apt-get install nginx-light)',
      );
    }
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port} within 10 s: ${stderr()}`);
}
