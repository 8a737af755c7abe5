import type { z } from 'zod';
import type { readinessSchema } from './health.schemas';
import { summarizeDatabaseError } from '../db/safe-errors';

/** A dependency the readiness probe checks; `check` throws or resolves false when it is down. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

export interface Readiness {
  ready: boolean;
  /** The `/ready` body but for the figures the route adds. */
  body: Omit<z.infer<typeof readinessSchema>, 'backlog'>;
}

/** Runs every check at once, each bounded by `timeoutMs` so a hung dependency reads as down. */
export async function checkReadiness(
  checks: ReadinessCheck[],
  timeoutMs = 2000,
): Promise<Readiness> {
  const results = await Promise.all(
    checks.map(async (c) => {
      const reason = await withTimeout(c.check(), timeoutMs).then(
        (ok) => (ok ? null : 'check failed'),
        (err: unknown) => reasonOf(err),
      );
      return { name: c.name, reason };
    }),
  );
  const ready = results.every((r) => r.reason === null);
  return {
    ready,
    body: {
      status: ready ? 'ready' : 'not_ready',
      checks: Object.fromEntries(results.map((r) => [r.name, r.reason ? 'unavailable' : 'ok'])),
      ...(!ready && {
        reasons: Object.fromEntries(results.flatMap((r) => (r.reason ? [[r.name, r.reason]] : []))),
      }),
    },
  };
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
