import Router from '@koa/router';
import type { AppState } from './state';

/** A dependency the readiness probe checks; `check` throws or resolves false when it is down. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

/**
 * `GET /health`: the process is alive. `GET /ready`: every dependency answers; `describe` adds
 * figures an operator wants beside the verdict.
 */
export function healthRoutes(
  checks: ReadinessCheck[],
  describe: () => Record<string, unknown> = () => ({}),
): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    const results = await Promise.all(
      checks.map(async (c) => {
        const ok = await withTimeout(c.check(), 2000).catch(() => false);
        return [c.name, ok ? 'ok' : 'unavailable'] as const;
      }),
    );
    const ready = results.every(([, s]) => s === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: ready ? 'ready' : 'not_ready',
      checks: Object.fromEntries(results),
      ...describe(),
    };
  });
  return router;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
