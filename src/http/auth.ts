import type { Middleware } from 'koa';
import { UnauthorizedError } from '../errors';
import { keyKindOf } from '../users/tokens';
import type { AppState } from './state';

/**
 * Requires `Authorization: Bearer <API token>` naming a known user, and puts the user on state.
 * A write key is refused: it is meant for web pages, where anyone can read it, so it may send
 * events (`/v1/*`) but never read them.
 */
export function requireUser(): Middleware<AppState> {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    if (!header)
      throw new UnauthorizedError('Missing Authorization header; expected "Bearer <token>"');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new UnauthorizedError('Authorization header must be "Bearer <token>"');
    const key = match[1]!;
    const user = await ctx.state.keys.find(() => ctx.state.em, key, 'api');
    if (!user) {
      throw new UnauthorizedError(
        keyKindOf(key) === 'write_key'
          ? 'A write key only sends events to the tracking routes (/v1/*); this route needs the API token'
          : 'Invalid API token',
      );
    }
    ctx.state.user = user;
    await next();
  };
}
