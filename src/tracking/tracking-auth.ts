import type { Middleware } from 'koa';
import type { ByteBudget } from '../concurrency/byte-budget';
import { UnauthorizedError } from '../errors';
import type { AppState } from '../http/state';
import { bodyEncoding, readTrackingBody, routeLimit, type BodyLimit } from './tracking-body';
import { TrackingBodyTooLargeError } from './tracking-errors';

/**
 * Most bytes of a body (after decompression) read before its key is checked, when the key is
 * in the body rather than a header: a single call with a message at Segment's own 32 KB limit
 * fits twice over. analytics.js sends its key in the Authorization header as well; older
 * versions put it only in the body, and their larger bodies need a current one.
 */
export const KEY_IN_BODY_MAX_BYTES = 64 * 1024;

export interface WriteKeyOptions {
  /** The route's body limit, after decompression. */
  limit: number;
  /** Bounds the bytes of large bodies read and handled at once (see body-budget.ts). */
  budget?: ByteBudget;
  /** The per-user rate limit, charged once the user is known and before the body is read. */
  rateLimit: Middleware<AppState>;
}

/**
 * Authenticates a tracking request, then reads its body into `ctx.request.body`. The key is the
 * write key or the API token, wherever analytics SDKs put it: the Basic-auth user name (the
 * password is empty and ignored), `Bearer`, or `writeKey` in the body.
 *
 * Nothing is read before the key is checked: a key in the Authorization header is checked (and
 * the user's rate limit charged) from the header alone. Without one, the body is read only up
 * to `KEY_IN_BODY_MAX_BYTES` before its `writeKey` is checked, so an anonymous sender makes the
 * service decompress and parse little.
 */
export function requireWriteKey({
  limit,
  budget,
  rateLimit,
}: WriteKeyOptions): Middleware<AppState> {
  return async (ctx, next) => {
    const encoding = bodyEncoding(ctx);
    const headerKey = writeKeyOfHeader(ctx.get('authorization'));
    if (headerKey !== null) {
      await authenticate(ctx, headerKey);
      await rateLimit(ctx, () =>
        readTrackingBody(ctx, encoding, routeLimit(limit), budget, async (body) => {
          ctx.request.body = body;
          await next();
        }),
      );
      return;
    }
    await readTrackingBody(ctx, encoding, keyInBodyLimit(limit), budget, async (body) => {
      const key = writeKeyOfBody(body);
      if (key === null) {
        throw new UnauthorizedError(
          'Missing write key; send it as the Basic auth user name, as "Bearer <key>", or as "writeKey" in the body',
        );
      }
      await authenticate(ctx, key);
      ctx.request.body = body;
      await rateLimit(ctx, next);
    });
  };
}

function keyInBodyLimit(limit: number): BodyLimit {
  if (limit <= KEY_IN_BODY_MAX_BYTES) return routeLimit(limit);
  return {
    bytes: KEY_IN_BODY_MAX_BYTES,
    tooLarge: () =>
      new TrackingBodyTooLargeError(
        `Without an Authorization header, a body is read up to ${KEY_IN_BODY_MAX_BYTES} bytes before its writeKey is checked; send the write key as the Basic auth user name for a larger body`,
        { limit_bytes: KEY_IN_BODY_MAX_BYTES },
      ),
  };
}

async function authenticate(ctx: { state: AppState }, key: string): Promise<void> {
  const user = await ctx.state.keys.find(() => ctx.state.em, key, 'tracking');
  if (!user) throw new UnauthorizedError('Invalid write key');
  ctx.state.user = user;
}

/** The key an Authorization header carries; null when none is sent. */
export function writeKeyOfHeader(authorization: string): string | null {
  if (!authorization) return null;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer) return bearer[1]!;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (!basic) throw new UnauthorizedError('Authorization header must be Basic or Bearer');
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? decoded : decoded.slice(0, colon);
}

/** The `writeKey` a parsed body carries; null when none. */
export function writeKeyOfBody(body: unknown): string | null {
  if (body && typeof body === 'object' && 'writeKey' in body && typeof body.writeKey === 'string') {
    return body.writeKey;
  }
  return null;
}
