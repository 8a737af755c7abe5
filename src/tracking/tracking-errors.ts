import { AppError } from '../errors';

/**
 * Analytics SDKs drop a batch answered 400 and retry every other non-2xx, forever or for hours.
 * So what no retry can fix is answered 400 on the tracking routes, where the rest of the API
 * would answer 413 or 422.
 */

/** The body, once decompressed, is over the route's limit, or a batch has too many messages. */
export class TrackingBodyTooLargeError extends AppError {
  readonly status = 400;
  readonly code = 'payload_too_large';
}

/** The body is not a tracking request at all: undecodable, or not the expected envelope. */
export class TrackingRequestError extends AppError {
  readonly status = 400;
  readonly code = 'invalid_request';
}
