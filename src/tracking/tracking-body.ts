import { createUnzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { Context } from 'koa';
import type { ByteBudget } from '../concurrency/byte-budget';
import { UnsupportedMediaTypeError } from '../errors';
import { bodyBound, readWithinBudget } from '../http/body-budget';
import { parseJsonBytes } from '../http/json-body';
import { TrackingBodyTooLargeError, TrackingRequestError } from './tracking-errors';

/** How a tracking body is sent: plain, or compressed as `Content-Encoding` says. */
export type BodyEncoding = 'identity' | 'gzip' | 'deflate';

/**
 * The body's encoding, from its header alone: checked before anything is read. RudderStack
 * gzips by default; `x-gzip` is gzip's old name.
 */
export function bodyEncoding(ctx: Context): BodyEncoding {
  const encoding = ctx.get('content-encoding').trim().toLowerCase() || 'identity';
  if (encoding === 'identity' || encoding === 'deflate') return encoding;
  if (encoding === 'gzip' || encoding === 'x-gzip') return 'gzip';
  throw new UnsupportedMediaTypeError(
    `Content-Encoding must be gzip, deflate or none, got ${encoding}`,
  );
}

/** What bounds one read of a tracking body. */
export interface BodyLimit {
  /** Most bytes of the body after decompression. */
  bytes: number;
  /** What a body past `bytes` is answered. */
  tooLarge: () => Error;
}

/** The route's own limit, in the answer SDKs understand (see tracking-errors.ts). */
export const routeLimit = (bytes: number): BodyLimit => ({
  bytes,
  tooLarge: () =>
    new TrackingBodyTooLargeError(`Request body exceeds the limit of ${bytes} bytes`, {
      limit_bytes: bytes,
    }),
});

/**
 * Reads a tracking request's JSON body, as analytics SDKs send it, plain or compressed, and
 * runs `rest` with it. The body is JSON whatever `Content-Type` says, as with Segment: browsers
 * send `text/plain` to avoid a CORS preflight, and RudderStack's gzipped bodies go out as
 * `application/x-www-form-urlencoded`.
 *
 * `limit` bounds the body after decompression. Decompression streams and stops as soon as the
 * limit is passed, so a small gzip bomb costs at most the limit, never its full expansion. The
 * body's bytes are taken from `budget` before it is read: a plain body's Content-Length, a
 * compressed one's whole limit, since its size is unknown until it is decompressed (see
 * body-budget.ts).
 */
export async function readTrackingBody(
  ctx: Context,
  encoding: BodyEncoding,
  limit: BodyLimit,
  budget: ByteBudget | undefined,
  rest: (body: unknown) => Promise<void>,
): Promise<void> {
  const declared = ctx.get('content-length');
  // A compressed body larger than the limit decompresses larger still.
  if (Number(declared) > limit.bytes) throw limit.tooLarge();
  const bound = bodyBound(limit.bytes, declared, encoding !== 'identity');
  await readWithinBudget(
    budget,
    bound,
    () => readCapped(ctx.req, encoding, limit),
    parseBody,
    rest,
  );
}

const parseBody = (bytes: Buffer) => parseJsonBytes(bytes, JSON.parse, 'JSON');

/** The body's bytes, decompressed if `encoding` says so; rejects once past the limit. */
function readCapped(req: Readable, encoding: BodyEncoding, limit: BodyLimit): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Unzip reads gzip and zlib-wrapped deflate alike, telling them by their header.
    const unzip = encoding === 'identity' ? null : createUnzip();
    const source: Readable = unzip ? req.pipe(unzip) : req;
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      if (err) {
        if (unzip) {
          req.unpipe(unzip);
          unzip.destroy();
        }
        // Drain the rest, unread, so the client gets the answer rather than a reset connection.
        req.resume();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit.bytes) finish(limit.tooLarge());
      else chunks.push(chunk);
    };
    source.on('data', onData);
    source.once('end', () => finish(null));
    source.once('error', (err) => {
      // zlib's errors mean a corrupt body; anything else (a reset connection) goes up as is.
      const corrupt = unzip && source === unzip && 'errno' in err;
      finish(
        corrupt
          ? new TrackingRequestError(`Request body is not valid ${encoding}: ${err.message}`)
          : err,
      );
    });
    if (unzip) req.once('error', (err) => finish(err));
  });
}
