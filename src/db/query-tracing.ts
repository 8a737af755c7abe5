import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import pg from 'pg';

type Query = (this: pg.Client, ...args: unknown[]) => unknown;

const original = pg.Client.prototype.query as Query;

/**
 * A span per PostgreSQL query, child of whatever span is active (the HTTP request or the
 * activity). Wraps `pg.Client#query`, which MikroORM's driver calls, instead of hooking `require`
 * as @opentelemetry/instrumentation-pg does: that hook misses modules loaded before it and
 * never sees them under jest. Records the statement text only, never its parameters (payloads).
 */
export function traceQueries(tracer: Tracer): () => void {
  pg.Client.prototype.query = function tracedQuery(this: pg.Client, ...args: unknown[]) {
    const first = args[0];
    const text =
      typeof first === 'string' ? first : (first as { text?: unknown } | undefined)?.text;
    // A submittable (cursor, stream) manages its own lifecycle; leave it untraced.
    if (typeof text !== 'string' || typeof (first as { submit?: unknown }).submit === 'function') {
      return original.apply(this, args);
    }
    const span = tracer.startSpan(`pg ${text.trim().split(/\s+/, 1)[0]!.toLowerCase()}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system': 'postgresql',
        'db.name': this.database ?? '',
        'db.statement': text.length > 2000 ? `${text.slice(0, 2000)}…` : text,
      },
    });
    const end = (err?: unknown) => {
      if (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    };
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (err: unknown, ...rest: unknown[]) => void;
      args[last] = (err: unknown, ...rest: unknown[]) => {
        end(err);
        callback(err, ...rest);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args) as Promise<unknown>;
    result.then(
      () => end(),
      (err: unknown) => end(err),
    );
    return result;
  } as typeof pg.Client.prototype.query;
  return () => {
    pg.Client.prototype.query = original as typeof pg.Client.prototype.query;
  };
}
