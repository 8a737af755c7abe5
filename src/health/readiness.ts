/** A dependency the readiness probe checks; `check` throws or resolves false when it is down. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<boolean>;
}

export interface Readiness {
  ready: boolean;
  body: { status: 'ready' | 'not_ready'; checks: Record<string, 'ok' | 'unavailable'> };
}

/** Runs every check at once, each bounded by `timeoutMs` so a hung dependency reads as down. */
export async function checkReadiness(
  checks: ReadinessCheck[],
  timeoutMs = 2000,
): Promise<Readiness> {
  const results = await Promise.all(
    checks.map(async (c) => {
      const ok = await withTimeout(c.check(), timeoutMs).catch(() => false);
      return [c.name, ok ? 'ok' : 'unavailable'] as const;
    }),
  );
  const ready = results.every(([, s]) => s === 'ok');
  return {
    ready,
    body: { status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(results) },
  };
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
