import type { Middleware } from 'koa';
import { z } from 'zod';
import { summarizeDatabaseError, type DatabaseErrorSummary } from '../db/safe-errors';
import {
  AppError,
  DatabaseConflictError,
  InternalError,
  QueryTimeoutError,
  RateLimitedError,
  RequestValidationError,
  ServiceUnavailableError,
} from '../errors';
import type { Logger } from '../logger';
import { redactPath } from './redact-path';

/** The JSON error body every failed request gets; the OpenAPI document shows it as ErrorBody. */
export const errorBodySchema = z
  .strictObject({
    error: z.strictObject({
      code: z.string().meta({ description: 'Stable machine-readable code', example: 'not_found' }),
      message: z.string().meta({ description: 'What went wrong, for people' }),
      details: z.unknown().optional().meta({
        description: 'For validation_error: each issue with its JSON path, message and code',
      }),
    }),
  })
  .meta({ id: 'ErrorBody' });
export type ErrorBody = z.infer<typeof errorBodySchema>;

/**
 * The top of the middleware chain: turns typed errors into their status and JSON body, and any
 * other error into a bare 500. Database errors are logged by their codes and names only (their
 * messages carry SQL with inlined payloads) and answered by what they mean (see
 * `databaseAnswer`): only an unreachable database is called unavailable. Stack traces stay in
 * the logs; paths
 * are logged without the keys they may carry.
 */
export function errorHandler(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // Statuses the router sets without a body: no route, or a method the route lacks.
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = body('not_found', `No route for ${ctx.method} ${ctx.path}`);
      } else if (ctx.status === 405 && ctx.body === undefined) {
        ctx.status = 405;
        ctx.body = body(
          'method_not_allowed',
          `${ctx.method} is not allowed here; allowed: ${ctx.response.get('allow')}`,
        );
      }
    } catch (err) {
      if (err instanceof AppError) {
        ctx.status = err.status;
        ctx.body = body(err.code, err.message, err.details);
        if (err instanceof RateLimitedError || err instanceof ServiceUnavailableError)
          ctx.set('Retry-After', String(err.retryAfterSec));
        return;
      }
      const db = summarizeDatabaseError(err);
      if (db) {
        const answer = databaseAnswer(db);
        const fields = { method: ctx.method, path: redactPath(ctx.path), ...db.fields };
        // Only an outage or a defect is an error of the service; the rest is this request's.
        if (db.kind === 'unavailable' || db.kind === 'defect') logger.error(fields, db.reason);
        else logger.warn(fields, db.reason);
        ctx.status = answer.status;
        ctx.body = body(answer.code, answer.message);
        if (answer instanceof ServiceUnavailableError)
          ctx.set('Retry-After', String(answer.retryAfterSec));
        return;
      }
      const status = httpStatusOf(err);
      if (status && status < 500) {
        // Errors Koa itself raises for bad requests (e.g. a malformed URL).
        ctx.status = status;
        ctx.body = body('bad_request', (err as Error).message);
        return;
      }
      logger.error({ err, method: ctx.method, path: redactPath(ctx.path) }, 'request failed');
      ctx.status = 500;
      ctx.body = body('internal_error', 'Internal server error');
    }
  };
}

/**
 * The answer to a database error, by its kind: an outage, a statement past the timeout and a
 * lost conflict answer 503 with `Retry-After` (each with its own code, so that only the first
 * reads as an outage); a value the database refuses is the request's fault, 422; anything else
 * is the service's, 500.
 */
function databaseAnswer(db: DatabaseErrorSummary): AppError {
  switch (db.kind) {
    case 'unavailable':
      return new ServiceUnavailableError('The database is unavailable; retry later');
    case 'timeout':
      return new QueryTimeoutError();
    case 'conflict':
      return new DatabaseConflictError();
    case 'invalid_value':
      return new RequestValidationError(
        `The database refused a value of this request (${db.reason.replace(/^database error: /, '')}); check the request's values`,
      );
    case 'defect':
      return new InternalError();
  }
}

function body(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

function httpStatusOf(err: unknown): number | undefined {
  if (err && typeof err === 'object' && 'status' in err && 'expose' in err && err.expose) {
    return typeof err.status === 'number' ? err.status : undefined;
  }
  return undefined;
}
