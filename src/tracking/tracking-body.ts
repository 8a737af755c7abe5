import { createUnzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { Middleware } from 'koa';
import type { ByteBudget } from '../concurrency/byte-budget';
import { UnsupportedMediaTypeError } from '../errors';
import { handleBody } from '../http/body-budget';
import { parseJsonBytes } from '../http/json-body';
import { TrackingBodyTooLargeError, TrackingRequestError } from './tracking-errors';

/**
 * Reads a tracking request's JSON body into `ctx.request.body`, as analytics SDKs send it,
 * plain or compressed (`Content-Encoding: gzip` or `deflate`; RudderStack gzips by default).
 * The body is JSON whatever `Content-Type` says, as with Segment: browsers send `text/plain`
 * to avoid a CORS preflight, and RudderStack's gzipped bodies go out as
 * `application/x-www-form-urlencoded`.
 *
 * `limit` bounds the body after decompression. Decompression streams and stops as soon as the
 * limit is passed, so a small gzip bomb costs at most `limit` bytes of memory, never its full
 * expansion. A large body is parsed and handled while holding its decompressed size from
 * `budget` (see body-budget.ts).
 */
export function trackingBody(limit: number, budget?: ByteBudget): Middleware {
  return async (ctx, next) => {
    const encoding = ctx.get('content-encoding').trim().toLowerCase() || 'identity';
    if (!['identity', 'gzip', 'x-gzip', 'deflate'].includes(encoding)) {
      throw new UnsupportedMediaTypeError(
        `Content-Encoding must be gzip, deflate or none, got ${encoding}`,
      );
    }
    if (Number(ctx.get('content-length')) > limit) throw tooLarge(limit);
    const bytes = await readCapped(ctx.req, encoding === 'identity' ? null : encoding, limit);
    await handleBody(budget, bytes, parseBody, async (body) => {
      ctx.request.body = body;
      await next();
    });
  };
}

const parseBody = (bytes: Buffer) => parseJsonBytes(bytes, JSON.parse, 'JSON');

const tooLarge = (limit: number) =>
  new TrackingBodyTooLargeError(`Request body exceeds the limit of ${limit} bytes`, {
    limit_bytes: limit,
  });

/** The body's bytes, decompressed if `encoding` says so; rejects once past `limit`. */
function readCapped(req: Readable, encoding: string | null, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Unzip reads gzip and zlib-wrapped deflate alike, telling them by their header.
    const unzip = encoding ? createUnzip() : null;
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
      if (size > limit) finish(tooLarge(limit));
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
