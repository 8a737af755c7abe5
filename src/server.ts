import { startApi } from './api';
import { ConfigError, loadConfig } from './config';
import { createOrm } from './db/orm';
import { traceQueries } from './db/query-tracing';
import { listen } from './http/listen';
import { createLogger } from './logger';
import { installTemporalRuntime } from './worker/runtime';
import { startTracing } from './tracing';
import { createTemporalClient } from './temporal/client';
import { TemporalConnectError, describeTemporalConnection } from './temporal/connection-options';

/** Entry point of the API process (`npm run start:api`). */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, { process: 'api' });
  const tracing = startTracing(config.tracing, 'api');
  if (tracing) traceQueries(tracing.tracer);
  const orm = await createOrm(config.database);
  // The client's connection is the SDK's native one: its logs go through ours.
  installTemporalRuntime(logger);
  const temporal = createTemporalClient(config.temporal, { tracing: tracing !== undefined });
  const api = startApi({ config, orm, temporal, logger, tracer: tracing?.tracer });
  // The API works without Temporal (events wait in PostgreSQL for the outbox), so this does not
  // stop the start; but a wrong key or certificate should be said once, plainly, not found in
  // retries.
  void temporal.connection.ensureConnected().then(
    () => logger.info(describeTemporalConnection(config.temporal), 'connected to Temporal'),
    (err: unknown) =>
      logger.error(
        { ...describeTemporalConnection(config.temporal), reason: String(err) },
        new TemporalConnectError(config.temporal, err).message,
      ),
  );

  const server = await listen(api.app, config.api.port, config.api.host);
  server.keepAliveTimeout = 65_000;
  logger.info({ host: config.api.host, port: config.api.port }, 'API listening');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const force = setTimeout(() => {
      logger.warn('grace period over; closing remaining connections');
      server.closeAllConnections();
    }, config.shutdownGraceMs);
    force.unref();
    server.close(() => {
      void (async () => {
        await api.stop();
        await Promise.allSettled([orm.close(), temporal.connection.close(), tracing?.shutdown()]);
        logger.info('API stopped');
        process.exit(0);
      })();
    });
    server.closeIdleConnections();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
