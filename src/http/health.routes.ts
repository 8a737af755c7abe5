import Router from '@koa/router';
import { summarizeDatabaseError } from '../db/safe-errors';
import type { AppState } from './state';

/** A dependency the readiness probe checks; `check` throws or resolves false when it is down. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

/**
 * `GET /health`: the process is alive. `GET /ready`: every dependency answers; when one does
 * not, `reasons` says why in a short phrase (codes and names, never addresses or SQL).
 * `describe` adds figures an operator wants beside the verdict.
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
        const reason = await withTimeout(c.check(), 2000).then(
          (ok) => (ok ? null : 'check failed'),
          (err: unknown) => reasonOf(err),
        );
        return { name: c.name, reason };
      }),
    );
    const ready = results.every((r) => r.reason === null);
    ctx.status = ready ? 200 : 503;
    if (!ready) ctx.set('Retry-After', '5');
    ctx.body = {
      status: ready ? 'ready' : 'not_ready',
      checks: Object.fromEntries(results.map((r) => [r.name, r.reason ? 'unavailable' : 'ok'])),
      ...describe(),
      ...(!ready && {
        reasons: Object.fromEntries(results.filter((r) => r.reason).map((r) => [r.name, r.reason])),
      }),
    };
  });
  return router;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
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

/** A short phrase for a failed check; messages of other errors may name hosts, so only codes. */
function reasonOf(err: unknown): string {
  const db = summarizeDatabaseError(err);
  if (db) return db.reason;
  if (err instanceof TimeoutError) return err.message;
  const code = (err as { code?: unknown } | null)?.code;
  const name = err instanceof Error ? err.name : 'error';
  return typeof code === 'string' || typeof code === 'number' ? `${name} ${code}` : name;
}

/** A check that did not answer in time. */
class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}
