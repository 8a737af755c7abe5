import Router from '@koa/router';
import { NotFoundError } from '../errors';
import type { AppState } from '../http/state';
import { TRACKING_PREFIX } from './tracking.routes';

/**
 * How long browsers and caches may keep a settings document. It changes only with the
 * configuration, or when its key is rotated (a page then needs its new key anyway).
 */
export const SETTINGS_MAX_AGE_SEC = 300;

/**
 * What analytics.js (`@segment/analytics-next`) fetches at load from its CDN, for a page that
 * sets `cdnURL` to this service: the project settings, with the Segment.io destination's
 * `apiHost` pointing back here, so its calls come to the tracking routes. Nothing else is
 * enabled: no other destination, no remote plugins, and no metrics sent to Segment.
 *
 * `publicUrl` is where pages reach the service (PUBLIC_API_URL). It is configured rather than
 * read from `Host` or `X-Forwarded-Host`: behind a cache, one request with a forged header
 * would otherwise point every visitor's SDK elsewhere. So the answer depends on its path alone
 * and carries no `Vary`; the CORS answer is `*` for every origin.
 */
export function browserSettingsRoutes({ publicUrl }: { publicUrl: string }): Router<AppState> {
  const url = new URL(publicUrl);
  const apiHost = `${url.host}${url.pathname.replace(/\/+$/, '')}${TRACKING_PREFIX}`;
  const protocol = url.protocol.replace(/:$/, '');
  const router = new Router<AppState>({ prefix: TRACKING_PREFIX });
  router.get('/projects/:writeKey/settings', async (ctx) => {
    const writeKey = ctx.params.writeKey!;
    // An error is not kept: the key may exist a moment later, and the database be back.
    ctx.set('Cache-Control', 'no-store');
    if (!(await ctx.state.keys.find(() => ctx.state.em, writeKey, 'tracking'))) {
      throw new NotFoundError('No project with this write key');
    }
    ctx.set('Cache-Control', `public, max-age=${SETTINGS_MAX_AGE_SEC}`);
    ctx.body = browserSettings(writeKey, apiHost, protocol);
  });
  return router;
}

/** The settings document, in the shape Segment's CDN serves it. */
export function browserSettings(writeKey: string, apiHost: string, protocol: string) {
  return {
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        apiHost,
        protocol,
        unbundledIntegrations: [],
        addBundledMetadata: true,
        maybeBundledConfigIds: {},
      },
    },
    plan: {
      track: { __default: { enabled: true, integrations: {} } },
      identify: { __default: { enabled: true } },
      group: { __default: { enabled: true } },
    },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  };
}
