import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { ByteBudget } from '../concurrency/byte-budget';
import type { AppState } from '../http/state';
import { parseOrThrow } from '../http/validate';
import { RequestValidationError } from '../errors';
import type { Logger } from '../logger';
import { batchEnvelopeSchema, type MessageType } from './message.schemas';
import { requireWriteKey } from './tracking-auth';
import { TrackingBodyTooLargeError, TrackingRequestError } from './tracking-errors';
import type { TrackingOutcome, TrackingService } from './tracking.service';

/** Where the tracking routes live, as analytics SDKs expect them. */
export const TRACKING_PREFIX = '/v1';

/** Batch routes: Segment's `/batch` and `/import`, and analytics.js's batching `/b`. */
export const BATCH_PATHS = ['/batch', '/import', '/b'] as const;

/** Single-call routes per type: Segment's names and the one-letter ones analytics.js uses. */
export const SINGLE_PATHS: Record<MessageType, readonly string[]> = {
  track: ['/track', '/t'],
  identify: ['/identify', '/i'],
  page: ['/page', '/p'],
  screen: ['/screen', '/s'],
  group: ['/group', '/g'],
  alias: ['/alias', '/a'],
};

export interface TrackingRoutesDeps {
  tracking: TrackingService;
  limits: {
    eventMaxBodyBytes: number;
    batchMaxBodyBytes: number;
    /** Most messages one batch request carries. */
    trackingBatchMaxMessages: number;
  };
  rateLimit: Middleware<AppState>;
  logger: Logger;
  /** Bounds the bytes of large bodies handled at once (see body-budget.ts). */
  bodyBudget?: ByteBudget;
}

/**
 * The Segment-compatible tracking API (`/v1/batch`, `/v1/track`, ...): analytics SDKs send here
 * unchanged. Every accepted request is answered 200 `{"success": true}`, as the SDKs expect,
 * including one with messages that break the spec (they are stored failed, see the service).
 */
export function trackingRoutes({
  tracking,
  limits,
  rateLimit,
  logger,
  bodyBudget,
}: TrackingRoutesDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: TRACKING_PREFIX });
  const answer = (ctx: { status: number; body: unknown }, outcome: TrackingOutcome) => {
    if (outcome.rejected > 0) logger.info(outcome, 'tracking request with rejected messages');
    ctx.status = 200;
    ctx.body = { success: true };
  };

  for (const path of BATCH_PATHS) {
    router.post(
      path,
      requireWriteKey({ limit: limits.batchMaxBodyBytes, budget: bodyBudget, rateLimit }),
      async (ctx) => {
        const envelope = parseEnvelope(ctx.request.body);
        const messages = envelope.batch.length;
        if (messages > limits.trackingBatchMaxMessages) {
          throw new TrackingBodyTooLargeError(
            `A batch carries at most ${limits.trackingBatchMaxMessages} messages; this one has ${messages}`,
            { limit_messages: limits.trackingBatchMaxMessages, messages },
          );
        }
        // The rate limit is in messages, as the REST batch route's is in events.
        ctx.state.chargeEvents?.(messages);
        const outcome = await tracking.acceptBatch(ctx.state.user, envelope.batch, envelope.sentAt);
        answer(ctx, outcome);
      },
    );
  }

  for (const [type, paths] of Object.entries(SINGLE_PATHS) as [MessageType, string[]][]) {
    for (const path of paths) {
      router.post(
        path,
        requireWriteKey({ limit: limits.eventMaxBodyBytes, budget: bodyBudget, rateLimit }),
        async (ctx) => {
          const body = ctx.request.body;
          if (body === null || typeof body !== 'object' || Array.isArray(body)) {
            throw new TrackingRequestError('Request body must be a JSON object: one message');
          }
          answer(
            ctx,
            await tracking.acceptOne(ctx.state.user, body as Record<string, unknown>, type),
          );
        },
      );
    }
  }

  return router;
}

/** The batch envelope, or a 400: an SDK retries a 422 forever, and no retry can fix this. */
function parseEnvelope(body: unknown) {
  try {
    return parseOrThrow(batchEnvelopeSchema, body, 'Batch');
  } catch (err) {
    if (!(err instanceof RequestValidationError)) throw err;
    throw new TrackingRequestError(err.message, err.details);
  }
}
