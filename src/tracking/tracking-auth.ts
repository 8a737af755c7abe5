import type { Middleware } from 'koa';
import { UnauthorizedError } from '../errors';
import type { AppState } from '../http/state';
import { findUserByKey } from '../users/user.service';

/**
 * Requires the user's write key (or its API token), wherever analytics SDKs put it: the
 * Basic-auth user name (the password is empty and ignored), `Bearer`, or `writeKey` in the
 * body. Runs after the body is read; puts the user on state.
 */
export function requireWriteKey(): Middleware<AppState> {
  return async (ctx, next) => {
    const key = writeKeyOf(ctx.get('authorization'), ctx.request.body);
    if (key === null) {
      throw new UnauthorizedError(
        'Missing write key; send it as the Basic auth user name, as "Bearer <key>", or as "writeKey" in the body',
      );
    }
    const user = await findUserByKey(ctx.state.em, key, 'tracking');
    if (!user) throw new UnauthorizedError('Invalid write key');
    ctx.state.user = user;
    await next();
  };
}

/** The write key the request carries, or null; a header that is present must hold it. */
export function writeKeyOf(authorization: string, body: unknown): string | null {
  if (authorization) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (bearer) return bearer[1]!;
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
    if (!basic) throw new UnauthorizedError('Authorization header must be Basic or Bearer');
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? decoded : decoded.slice(0, colon);
  }
  if (body && typeof body === 'object' && 'writeKey' in body && typeof body.writeKey === 'string') {
    return body.writeKey;
  }
  return null;
}
