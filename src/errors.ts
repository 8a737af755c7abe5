/**
 * Errors the HTTP layer answers with. Each carries its status and a stable machine-readable
 * `code`; the error handler in `http/error-handler.ts` is the only place that turns them into
 * responses. `expose` follows Koa: only exposed messages ever reach a client.
 */
export abstract class AppError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  readonly expose = true;
  constructor(
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Thrown by the body reader when the body is not valid JSON, or is empty. */
export class InvalidJsonError extends AppError {
  readonly status = 400;
  readonly code = 'invalid_json';
}

/** Thrown by the auth middleware when the bearer token is missing, malformed or unknown. */
export class UnauthorizedError extends AppError {
  readonly status = 401;
  readonly code = 'unauthorized';
}

/** Thrown when a resource does not exist or belongs to another user (indistinguishable on purpose). */
export class NotFoundError extends AppError {
  readonly status = 404;
  readonly code = 'not_found';
}

/** Thrown when a request conflicts with the resource's state. */
export class ConflictError extends AppError {
  readonly status = 409;
  readonly code = 'conflict';
}

/** Thrown by reprocess for an event that is already processed: there is nothing to redo. */
export class EventAlreadyProcessedError extends ConflictError {
  constructor(readonly eventId: string) {
    super(`Event ${eventId} is already processed; there is nothing to reprocess`);
  }
}

/** Thrown by the body reader when the body is over the route's limit; the message names the limit. */
export class PayloadTooLargeError extends AppError {
  readonly status = 413;
  readonly code = 'payload_too_large';
}

/** Thrown when a body is sent with a content type other than JSON. */
export class UnsupportedMediaTypeError extends AppError {
  readonly status = 415;
  readonly code = 'unsupported_media_type';
}

/** Thrown when a well-formed JSON body breaks the route's schema; `details` lists the issues. */
export class RequestValidationError extends AppError {
  readonly status = 422;
  readonly code = 'validation_error';
}

/**
 * Thrown by accepting an event or a batch when its idempotency key was used before with a
 * different body: answering with the original would hide the client's bug. `details` lists
 * the mismatching keys' JSON paths.
 */
export class IdempotencyKeyReusedError extends AppError {
  readonly status = 422;
  readonly code = 'idempotency_key_reused';
}

/** Thrown by the rate limiter; `retryAfterSec` becomes the `Retry-After` header. */
export class RateLimitedError extends AppError {
  readonly status = 429;
  readonly code = 'rate_limited';
  constructor(
    message: string,
    readonly retryAfterSec: number,
  ) {
    super(message);
  }
}

/**
 * Thrown when a dependency (database, Temporal) cannot serve the request right now;
 * `retryAfterSec` becomes the `Retry-After` header, which clients' retry logic honours.
 */
export class ServiceUnavailableError extends AppError {
  readonly status = 503;
  readonly code: string = 'service_unavailable';
  constructor(
    message: string,
    readonly retryAfterSec = 5,
  ) {
    super(message);
  }
}

/**
 * Answered when a statement of the request ran past its statement timeout (the listing's,
 * `LIST_STATEMENT_TIMEOUT_MS`) or was cancelled: the database is fine, this request asked too
 * much of it at once. Not an outage, so it has a code of its own.
 */
export class QueryTimeoutError extends ServiceUnavailableError {
  override readonly code = 'query_timeout';
  constructor() {
    super(
      'The request took longer than the database may spend on it; retry later, or narrow a listing with more filters',
    );
  }
}

/** Answered when the request's transaction lost to a concurrent one (a deadlock): retry it. */
export class DatabaseConflictError extends ServiceUnavailableError {
  override readonly code = 'database_conflict';
  constructor() {
    super('The request conflicted with a concurrent one in the database; retry it', 1);
  }
}

/** A defect in the service: the log says what, the client only that it happened. */
export class InternalError extends AppError {
  readonly status = 500;
  readonly code = 'internal_error';
  constructor() {
    super('Internal server error');
  }
}

/**
 * Thrown by admission when more events are stored unstarted than ADMISSION_MAX_BACKLOG:
 * accepting more would only lengthen the wait. `retryAfterSec` is an estimate of when the
 * backlog is back under the bound.
 */
export class BacklogFullError extends ServiceUnavailableError {
  override readonly code = 'backlog_full';
  constructor(
    readonly backlog: number,
    retryAfterSec: number,
  ) {
    super(
      `${backlog} events are waiting to be processed, more than this service accepts at once; retry after ${retryAfterSec} s`,
      retryAfterSec,
    );
  }
}
