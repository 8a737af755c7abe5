import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { UnauthorizedError } from '../errors';
import { mayScrape } from '../metrics/scrape-auth';
import type { EventService } from '../events/event.service';
import type { BacklogStats, OutboxItem } from '../events/outbox';
import type { SweepDecision } from '../events/run-sweeper';
import { errorResponses, type RouteGroup } from './openapi';
import type { AppState } from './state';

/** The label requests get when no route matched their method and path (404s, 405s). */
export const UNMATCHED_ROUTE = 'unmatched';

type HttpLabels = 'method' | 'route' | 'status';

/** The API's Prometheus metrics and the registry they live in. */
export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<HttpLabels>;
  httpRequestDuration: Histogram<HttpLabels>;
  /**
   * Events committed and answered 202. No labels: `event_type` is chosen by clients, and the
   * worker already reports it (capped); here the counter is the plain ingestion rate.
   */
  eventsAccepted: Counter;
  /** Workflow starts that failed and were left for a later pass, by kind (event or batch). */
  outboxStartFailures: Counter<'kind'>;
  /** What the sweeper decided about each run it asked Temporal about. */
  runSweepDecisions: Counter<'decision'>;
}

/**
 * Creates the API's metrics, with Node's process metrics, in `registry`. Tests pass nothing and
 * get a registry of their own, so apps in one process never share or clash over metrics.
 */
export function createApiMetrics(registry: Registry = new Registry()): ApiMetrics {
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving a request to its response, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    eventsAccepted: new Counter({
      name: 'events_accepted_total',
      help: 'Events stored and answered 202',
      registers: [registry],
    }),
    outboxStartFailures: new Counter({
      name: 'outbox_start_failures_total',
      help: 'Workflow starts that failed; the rows stay received and a later pass retries them',
      labelNames: ['kind'],
      registers: [registry],
    }),
    runSweepDecisions: new Counter({
      name: 'run_sweep_decisions_total',
      help: 'Runs of queued or processing events the sweeper checked: alive, restarted (a new run), failed, or moved_on',
      labelNames: ['decision'],
      registers: [registry],
    }),
  };
}

/** Counts a failed start; given to the outbox as `onStartFailed`. */
export function countStartFailure(metrics: ApiMetrics): (item: OutboxItem) => void {
  return (item) => metrics.outboxStartFailures.inc({ kind: item.kind });
}

/** Counts a sweeper decision; given to the sweeper as `onDecision`. */
export function countSweepDecision(metrics: ApiMetrics): (decision: SweepDecision) => void {
  return (decision) => metrics.runSweepDecisions.inc({ decision });
}

/** The backlog gauges, read from the outbox's latest figures at each scrape. */
export function observeBacklog(metrics: ApiMetrics, stats: () => BacklogStats): void {
  const gauge = (name: string, help: string, read: (s: BacklogStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        this.set(read(stats()));
      },
    });
  gauge(
    'events_backlog',
    'Events stored whose workflow has not started yet (status received)',
    (s) => s.unstarted,
  );
  gauge(
    'events_backlog_oldest_age_seconds',
    'Age of the oldest event whose workflow has not started yet',
    (s) => s.oldestAgeSec,
  );
  gauge(
    'events_unfinished_oldest_age_seconds',
    'Age of the oldest event not yet processed or failed (received, queued or processing)',
    (s) => s.oldestUnfinishedAgeSec,
  );
  gauge(
    'workflows_in_flight',
    'Workflows running on the task queue, single events and batches, as admission counts them; bounded by OUTBOX_MAX_IN_FLIGHT',
    (s) => s.inFlight,
  );
}

/**
 * Counts and times every request. Goes first in the chain so that it sees the status the error
 * handler finally sets, and the time spent in every other middleware.
 */
export function httpMetrics(metrics: ApiMetrics): Middleware {
  return async (ctx, next) => {
    const stop = metrics.httpRequestDuration.startTimer();
    try {
      await next();
    } finally {
      const labels = { method: ctx.method, route: routePattern(ctx), status: String(ctx.status) };
      metrics.httpRequests.inc(labels);
      stop(labels);
    }
  };
}

interface MatchedLayer {
  path: string | RegExp;
  methods: string[];
}

/**
 * The pattern of the route that served the request (`/api/v1/events/:id`), never the raw path,
 * which would make one time series per event id. Read from the layers @koa/router matched, not
 * from `ctx._matchedRoute`: a router-level middleware that throws (401 from `requireUser`)
 * leaves `_matchedRoute` set to that middleware's prefix regex.
 */
export function routePattern(ctx: Context): string {
  const matched = (ctx as Context & { matched?: MatchedLayer[] }).matched ?? [];
  const route = matched.filter((layer) => layer.methods.includes(ctx.method)).at(-1);
  return route ? String(route.path) : UNMATCHED_ROUTE;
}

/** Counts each event `accept` commits, whatever route called it. */
export function countAcceptedEvents(events: EventService, metrics: ApiMetrics): EventService {
  return {
    ...events,
    async accept(...args) {
      const accepted = await events.accept(...args);
      // A repeated idempotency key accepts nothing new.
      if (accepted.created) metrics.eventsAccepted.inc();
      return accepted;
    },
    async acceptBatch(...args) {
      const accepted = await events.acceptBatch(...args);
      // Events a repeated idempotency key names were accepted before, not now.
      if (accepted.created > 0) metrics.eventsAccepted.inc(accepted.created);
      return accepted;
    },
  };
}

/**
 * `GET /metrics` in Prometheus text format. Open unless a token is configured: keep it off
 * public networks (METRICS_ENABLED=false, METRICS_TOKEN, or a proxy that does not route it).
 */
export function metricsRoutes(registry: Registry, token: string | undefined): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/metrics', async (ctx) => {
    if (!mayScrape(ctx.get('authorization') || undefined, token)) {
      throw new UnauthorizedError('Metrics need "Authorization: Bearer <METRICS_TOKEN>"');
    }
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
  return router;
}

const METRICS_TOKEN_AUTH = 'metricsToken';

/** `GET /metrics` in the OpenAPI document; present unless METRICS_ENABLED is false. */
export const registerMetricsRoute: RouteGroup = (registry) => {
  registry.registerComponent('securitySchemes', METRICS_TOKEN_AUTH, {
    type: 'http',
    scheme: 'bearer',
    description: 'METRICS_TOKEN; required only when the service is configured with one',
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    tags: ['operations'],
    summary: 'Prometheus metrics of this API process',
    security: [{}, { [METRICS_TOKEN_AUTH]: [] }],
    responses: {
      200: {
        description: 'Prometheus text exposition format 0.0.4',
        content: { 'text/plain': { schema: z.string() } },
      },
      ...errorResponses(401),
    },
  });
};
