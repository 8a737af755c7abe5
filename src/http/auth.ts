import type { Middleware } from 'koa';
import { UnauthorizedError } from '../errors';
import { findUserByToken } from '../users/user.service';
import type { AppState } from './state';

/** Requires `Authorization: Bearer <token>` naming a known user, and puts the user on state. */
export function requireUser(): Middleware<AppState> {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    if (!header)
      throw new UnauthorizedError('Missing Authorization header; expected "Bearer <token>"');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new UnauthorizedError('Authorization header must be "Bearer <token>"');
    const user = await findUserByToken(ctx.state.em, match[1]!);
    if (!user) throw new UnauthorizedError('Invalid API token');
    ctx.state.user = user;
    await next();
  };
}
