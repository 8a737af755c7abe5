import type { Tracer } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import { createApp } from './app';
import type { Config } from './config';
import type { Orm } from './db/orm';
import { startConfiguredGrouper } from './events/message-grouper';
import { startConfiguredOutbox } from './events/outbox';
import { startConfiguredRunSweeper } from './events/run-sweeper';
import { countStartFailure, countSweepDecision, createApiMetrics } from './http/metrics';
import type { Logger } from './logger';

export interface ApiDeps {
  config: Config;
  orm: Orm;
  temporal: Client;
  logger: Logger;
  /** A span per request when tracing is on. */
  tracer?: Tracer;
}

/**
 * The API's parts: the HTTP application and the loops behind it (the outbox relay that starts
 * workflows, the grouper of tracking messages, the sweeper of lost runs). One place for
 * `src/server.ts` and the in-process service of tests and tools, so both run the same API.
 */
export function startApi({ config, orm, temporal, logger, tracer }: ApiDeps) {
  const metrics = createApiMetrics();
  const outbox = startConfiguredOutbox({
    config,
    orm,
    temporal,
    logger,
    onStartFailed: countStartFailure(metrics),
  });
  const grouper = startConfiguredGrouper({ config, orm, outbox, logger });
  const sweeper = startConfiguredRunSweeper({
    config,
    orm,
    temporal,
    outbox,
    logger,
    onDecision: countSweepDecision(metrics),
  });
  const app = createApp({ config, orm, temporal, logger, outbox, grouper, metrics, tracer });
  return {
    app,
    outbox,
    grouper,
    sweeper,
    /**
     * Stops the loops once no request is left to answer. Rows offered but not yet grouped or
     * started stay `received`; the next process's sweeps group and start them.
     */
    async stop(): Promise<void> {
      await Promise.all([grouper.stop(), sweeper.stop()]);
      await outbox.stop();
    },
  };
}
