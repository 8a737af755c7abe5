import Koa from 'koa';
import type { Client } from '@temporalio/client';
import type { Config } from './config';
import type { Orm } from './db/orm';
import { batchRoutes } from './events/batch.routes';
import { eventRoutes } from './events/event.routes';
import { createEventService } from './events/event.service';
import { errorHandler } from './http/error-handler';
import { healthRoutes } from './http/health.routes';
import { rateLimitPerUser } from './http/rate-limit';
import type { AppState } from './http/state';
import type { Logger } from './logger';
import { createEventWorkflowStarter } from './temporal/event-workflows';

export interface AppDeps {
  config: Config;
  orm: Orm;
  temporal: Client;
  logger: Logger;
}

/** Builds the HTTP application from its dependencies; listening is the caller's business. */
export function createApp({ config, orm, temporal, logger }: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: false });
  const workflows = createEventWorkflowStarter(
    temporal,
    config.temporal,
    config.processing,
    config.batch,
  );
  const events = createEventService({ workflows, logger });

  app.use(errorHandler(logger));
  app.use(async (ctx, next) => {
    // One unit of work per request.
    ctx.state.em = orm.em.fork();
    await next();
  });

  const health = healthRoutes([
    { name: 'database', check: async () => (await orm.checkConnection()).ok },
    {
      name: 'temporal',
      check: async () => {
        await temporal.connection.ensureConnected();
        await temporal.workflowService.getSystemInfo({});
        return true;
      },
    },
  ]);
  const rateLimit = rateLimitPerUser(config.api.rateLimitPerMinute);
  const eventsRouter = eventRoutes({ events, limits: config.api, rateLimit });
  for (const router of [health, eventsRouter, batchRoutes({ events, rateLimit })]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
