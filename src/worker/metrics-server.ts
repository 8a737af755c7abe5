import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger';
import { checkReadiness, type ReadinessCheck } from '../health/readiness';
import { mayScrape } from '../metrics/scrape-auth';

/** Probes for orchestrators, served beside `/metrics` without its token. */
export interface WorkerHealth {
  /** `GET /health`: the worker has not failed or stopped (draining is alive). */
  alive(): boolean;
  /** `GET /ready`: these dependencies answer (and `alive`). */
  checks: ReadinessCheck[];
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The port it listens on (the real one when asked for port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` from `registry` on its own small HTTP server: the worker has no API, and
 * a scrape must not depend on anything but the process being alive.
 */
export async function serveMetrics(
  registry: Registry,
  options: {
    host: string;
    port: number;
    token: string | undefined;
    logger: Logger;
    health?: WorkerHealth;
  },
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const { health } = options;
    if (req.method === 'GET' && health && (path === '/health' || path === '/ready')) {
      void probe(health, path).then(({ ok, body }) =>
        res
          .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify(body)),
      );
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found; try GET /metrics\n');
      return;
    }
    if (!mayScrape(req.headers.authorization, options.token)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Bearer METRICS_TOKEN needed\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        options.logger.error({ err }, 'could not collect metrics');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('Could not collect metrics\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function probe(
  health: WorkerHealth,
  path: '/health' | '/ready',
): Promise<{ ok: boolean; body: unknown }> {
  const alive = health.alive();
  if (path === '/health' || !alive) {
    return { ok: alive, body: { status: alive ? 'ok' : 'stopped' } };
  }
  const { ready, body } = await checkReadiness(health.checks);
  return { ok: ready, body };
}
