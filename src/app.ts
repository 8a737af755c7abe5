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
import { createGroupCommit } from './events/group-commit';
import type { MessageGrouper } from './events/message-grouper';
import { createSql } from './db/sql';
import { createKeyLookup } from './users/key-lookup';

/** Keys one API process remembers at most (see key-lookup.ts): a few MB. */
const KEY_CACHE_ENTRIES = 10_000;
import { createEventWorkflowStarter } from './temporal/event-workflows';
import { browserSettingsRoutes } from './tracking/browser-settings.routes';
import { trackingCors } from './tracking/tracking-cors';
import { registerTrackingRoutes } from './tracking/tracking.openapi';
import { TRACKING_PREFIX, trackingRoutes } from './tracking/tracking.routes';
import { createTrackingService } from './tracking/tracking.service';
import {
  registerTrackingPlanRoutes,
  trackingPlanRoutes,
} from './tracking-plans/tracking-plan.routes';
import { createTrackingPlanService } from './tracking-plans/tracking-plan.service';
import { ByteBudget } from './concurrency/byte-budget';
import { registerWriteKeyRoutes, writeKeyRoutes } from './users/write-key.routes';

export interface AppDeps {
  config: Config;
  orm: Orm;
  temporal: Client;
  logger: Logger;
  /** Starts the workflows of what the API commits (see `startConfiguredOutbox`). */
  outbox: Outbox;
  /** Groups committed tracking messages into batches (see `startConfiguredGrouper`). */
  grouper: MessageGrouper;
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
  grouper,
  metrics = createApiMetrics(),
  tracer,
}: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>({
    proxy: config.api.trustProxyHops > 0,
    maxIpsCount: config.api.trustProxyHops,
  });
  const keys = createKeyLookup({ ttlMs: config.api.keyCacheTtlMs, maxEntries: KEY_CACHE_ENTRIES });
  // One group commit for the process: concurrent requests share statements.
  const inserts = createGroupCommit(createSql(orm));
  const events = countAcceptedEvents(
    createEventService({
      inserts,
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
    // One unit of work per request, made when first used: accepting an event needs none.
    let em: AppState['em'] | undefined;
    Object.defineProperty(ctx.state, 'em', { get: () => (em ??= orm.em.fork()) });
    ctx.state.keys = keys;
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
      const { unstarted, oldestAgeSec, oldestUnfinishedAgeSec, inFlight } = outbox.stats();
      return {
        backlog: {
          unstarted,
          oldest_age_sec: oldestAgeSec,
          oldest_unfinished_age_sec: oldestUnfinishedAgeSec,
          in_flight: inFlight,
        },
      };
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
    trackingPlanRoutes({ plans: createTrackingPlanService(), bodyBudget }),
    writeKeyRoutes({ rateLimit }),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }

  // The Segment-compatible tracking API, for analytics SDKs (see src/tracking).
  app.use(trackingCors(`${TRACKING_PREFIX}/`));
  const tracking = createTrackingService({
    inserts,
    grouper,
    admit: events.admit,
    onAccepted: (n) => metrics.eventsAccepted.inc(n),
  });
  for (const router of [
    trackingRoutes({ tracking, limits: config.api, rateLimit, logger, bodyBudget }),
    browserSettingsRoutes({ publicUrl: config.api.publicUrl }),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }

  const openApi = buildOpenApiDocument(
    apiRouteGroups({
      metricsEnabled: config.metrics.apiEnabled,
      batchMaxEvents: config.api.batchMaxEvents,
      trackingBatchMaxMessages: config.api.trackingBatchMaxMessages,
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
  trackingBatchMaxMessages: number;
}): RouteGroup[] {
  return [
    registerHealthRoutes,
    registerEventRoutes,
    registerBatchRoutes(options.batchMaxEvents),
    registerTrackingPlanRoutes,
    registerWriteKeyRoutes,
    registerTrackingRoutes(options.trackingBatchMaxMessages),
    registerOpenApiRoute,
    ...(options.metricsEnabled ? [registerMetricsRoute] : []),
  ];
}
