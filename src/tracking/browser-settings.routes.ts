import Router from '@koa/router';
import { NotFoundError } from '../errors';
import type { AppState } from '../http/state';
import { findUserByKey } from '../users/user.service';
import { TRACKING_PREFIX } from './tracking.routes';

/**
 * What analytics.js (`@segment/analytics-next`) fetches at load from its CDN, for a page that
 * sets `cdnURL` to this service: the project settings, with the Segment.io destination's
 * `apiHost` pointing back here, so its calls come to the tracking routes. Nothing else is
 * enabled: no other destination, no remote plugins, and no metrics sent to Segment.
 */
export function browserSettingsRoutes(): Router<AppState> {
  const router = new Router<AppState>({ prefix: TRACKING_PREFIX });
  router.get('/projects/:writeKey/settings', async (ctx) => {
    const writeKey = ctx.params.writeKey!;
    if (!(await findUserByKey(ctx.state.em, writeKey, 'tracking'))) {
      throw new NotFoundError('No project with this write key');
    }
    // The host the page reached us at; behind a proxy that rewrites Host this is the proxy's.
    ctx.body = browserSettings(writeKey, `${ctx.host}${TRACKING_PREFIX}`, ctx.protocol);
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
