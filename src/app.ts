import type { Tracer } from '@opentelemetry/api';
import Koa from 'koa';
import type { Client } from '@temporalio/client';
import type { Config } from './config';
import type { Orm } from './db/orm';
import { batchRoutes, registerBatchRoutes } from './events/batch.routes';
import { eventRoutes, registerEventRoutes } from './events/event.routes';
import { createEventService } from './events/event.service';
import { databaseCheck, migrationsCheck, temporalCheck } from './health/dependency-checks';
import { accessLog } from './http/access-log';
import { errorHandler } from './http/error-handler';
import { healthRoutes, registerHealthRoutes } from './http/health.routes';
import { rateLimitPerUser } from './http/rate-limit';
import {
  countAcceptedEvents,
  createApiMetrics,
  httpMetrics,
  metricsRoutes,
  observeBacklog,
  registerMetricsRoute,
  type ApiMetrics,
} from './http/metrics';
import {
  buildOpenApiDocument,
  openApiRoutes,
  registerOpenApiRoute,
  type RouteGroup,
} from './http/openapi';
import { requestId } from './http/request-id';
import type { AppState } from './http/state';
import { traceRequests } from './http/tracing';
import type { Logger } from './logger';
import type { Outbox } from './events/outbox';
import { createEventWorkflowStarter } from './temporal/event-workflows';
import { browserSettingsRoutes } from './tracking/browser-settings.routes';
import { trackingCors } from './tracking/tracking-cors';
import { registerTrackingRoutes } from './tracking/tracking.openapi';
import { TRACKING_PREFIX, trackingRoutes } from './tracking/tracking.routes';
import { createTrackingService } from './tracking/tracking.service';
import { ByteBudget } from './concurrency/byte-budget';

export interface AppDeps {
  config: Config;
  orm: Orm;
  temporal: Client;
  logger: Logger;
  /** Starts the workflows of what the API commits (see `startConfiguredOutbox`). */
  outbox: Outbox;
  /** Where request and event metrics go; a fresh registry when omitted. */
  metrics?: ApiMetrics;
  /** A span per request when tracing is on. */
  tracer?: Tracer;
}

/** Builds the HTTP application from its dependencies; listening is the caller's business. */
export function createApp({
  config,
  orm,
  temporal,
  logger,
  outbox,
  metrics = createApiMetrics(),
  tracer,
}: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({
    proxy: config.api.trustProxyHops > 0,
    maxIpsCount: config.api.trustProxyHops,
  });
  const events = countAcceptedEvents(
    createEventService({
      outbox,
      maxBacklog: config.admission.maxBacklog,
      listStatementTimeoutMs: config.api.listStatementTimeoutMs,
      workflows: createEventWorkflowStarter(temporal, config),
      logger,
    }),
    metrics,
  );
  observeBacklog(metrics, outbox.stats);

  app.use(requestId());
  if (tracer) app.use(traceRequests(tracer));
  app.use(accessLog(logger));
  app.use(httpMetrics(metrics));
  app.use(errorHandler(logger));
  app.use(async (ctx, next) => {
    // One unit of work per request.
    ctx.state.em = orm.em.fork();
    await next();
  });

  const health = healthRoutes(
    [
      databaseCheck(orm),
      migrationsCheck(orm),
      temporalCheck(async () => {
        await temporal.connection.ensureConnected();
        await temporal.workflowService.getSystemInfo({});
      }),
    ],
    // Readiness does not depend on the backlog (a deep backlog still drains), but shows it.
    () => {
      const { unstarted, oldestAgeSec, inFlight } = outbox.stats();
      return { backlog: { unstarted, oldest_age_sec: oldestAgeSec, in_flight: inFlight } };
    },
  );
  const rateLimit = rateLimitPerUser(config.api.rateLimitPerMinute);
  // One budget for every route that takes large bodies: memory is per process.
  const bodyBudget = new ByteBudget(config.api.bodyBudgetBytes);
  // Batches before events: /api/v1/events/batch also matches the events router's GET /:id, and
  // this order keeps POST first in the Allow header of a 405 or OPTIONS answer there.
  for (const router of [
    health,
    batchRoutes({ events, limits: config.api, rateLimit, bodyBudget }),
    eventRoutes({ events, limits: config.api, rateLimit, bodyBudget }),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }

  // The Segment-compatible tracking API, for analytics SDKs (see src/tracking).
  app.use(trackingCors(`${TRACKING_PREFIX}/`));
  const tracking = createTrackingService({ events, batchMaxEvents: config.api.batchMaxEvents });
  for (const router of [
    trackingRoutes({ tracking, limits: config.api, rateLimit, logger, bodyBudget }),
    browserSettingsRoutes(),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }

  const openApi = buildOpenApiDocument(
    apiRouteGroups({
      metricsEnabled: config.metrics.apiEnabled,
      batchMaxEvents: config.api.batchMaxEvents,
    }),
  );
  const operations = [openApiRoutes(openApi)];
  if (config.metrics.apiEnabled) {
    operations.push(metricsRoutes(metrics.registry, config.metrics.token));
  }
  for (const router of operations) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}

/**
 * Every route group of the API, in the order the OpenAPI document lists them. A new router is
 * mounted in `createApp` and its `RouteGroup` added here; the OpenAPI test fails until every
 * route the app serves is in the document.
 */
export function apiRouteGroups(options: {
  metricsEnabled: boolean;
  batchMaxEvents: number;
}): RouteGroup[] {
  return [
    registerHealthRoutes,
    registerEventRoutes,
    registerBatchRoutes(options.batchMaxEvents),
    registerTrackingRoutes,
    registerOpenApiRoute,
    ...(options.metricsEnabled ? [registerMetricsRoute] : []),
  ];
}
