import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import pg from 'pg';
import { summarizeDatabaseError } from './safe-errors';
import { withPlaceholders } from './statement-text';

type Query = (this: pg.Client, ...args: unknown[]) => unknown;

const original = pg.Client.prototype.query as Query;

/**
 * A span per PostgreSQL query, child of whatever span is active (the HTTP request or the
 * activity). Wraps `pg.Client#query`, which MikroORM's driver calls, instead of hooking `require`
 * as @opentelemetry/instrumentation-pg does: that hook misses modules loaded before it and
 * never sees them under jest. Records the statement with placeholders for its values, never the
 * values: not its parameters, nor what MikroORM inlines into the text (see statement-text.ts).
 * A failed query records the error's SQLSTATE and names only; PostgreSQL's messages may quote
 * a value ("invalid input syntax for type uuid: …").
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
        'db.statement': withPlaceholders(text, 2000),
      },
    });
    const end = (err?: unknown) => {
      if (err) {
        const name = err instanceof Error ? err.name : 'Error';
        span.recordException({ name, message: summarizeDatabaseError(err)?.reason ?? name });
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
