import Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { NotFoundError } from '../errors';
import { requireUser } from '../http/auth';
import { BEARER_AUTH, errorResponses, jsonResponse, type RouteGroup } from '../http/openapi';
import type { AppState } from '../http/state';
import { rotateWriteKey } from './user.service';

/** The answer to a rotation: the new key, shown this once. */
export const writeKeySchema = z
  .strictObject({
    write_key: z.string().meta({
      description:
        'The new write key; the previous one stops working at once on this API process, and ' +
        'within KEY_CACHE_TTL_MS (5 s by default) on the others',
      example: 'evw_…',
    }),
  })
  .meta({ id: 'WriteKey' });

/** `/api/v1/write-key`: a user gets a new write key with its API token. */
export function writeKeyRoutes({
  rateLimit,
}: {
  rateLimit: Middleware<AppState>;
}): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/write-key' });
  router.use(requireUser(), rateLimit);
  router.post('/rotate', async (ctx) => {
    const rotated = await rotateWriteKey(ctx.state.em, { id: ctx.state.user.id });
    // The user authenticated a moment ago; gone now means deleted in between.
    if (!rotated) throw new NotFoundError('This user no longer exists');
    ctx.state.keys.forgetUser(ctx.state.user.id);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { write_key: rotated.write_key } satisfies z.infer<typeof writeKeySchema>;
  });
  return router;
}

/** `/api/v1/write-key` in the OpenAPI document. */
export const registerWriteKeyRoutes: RouteGroup = (registry) => {
  registry.registerPath({
    method: 'post',
    path: '/api/v1/write-key/rotate',
    tags: ['users'],
    summary: 'Replace your write key (the key for web pages) with a new one',
    description:
      'The write key sends events to the tracking routes (/v1/*) and reads nothing, so it may ' +
      'sit in a web page. The previous key stops working at once on the API process that ' +
      'answers, and within KEY_CACHE_TTL_MS on the others; a user created before write ' +
      'keys existed gets its first one here. Needs the API token; a write key is refused.',
    security: [{ [BEARER_AUTH]: [] }],
    responses: {
      200: jsonResponse('The new write key, shown this once', writeKeySchema),
      ...errorResponses(401, 404, 429, 500, 503),
    },
  });
};
