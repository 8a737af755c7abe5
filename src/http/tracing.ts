import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import type { Middleware } from 'koa';
import { routePattern } from './metrics';
import type { AppState } from './state';

/**
 * A server span per request, continuing the caller's trace when it sent `traceparent`; what the
 * handler does (queries, the workflow start) happens inside it. Named after the route pattern
 * once routing is done, so names stay few.
 */
export function traceRequests(tracer: Tracer): Middleware<AppState> {
  return async (ctx, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, ctx.headers);
    const span = tracer.startSpan(
      `${ctx.method}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': ctx.method } },
      parent,
    );
    try {
      await context.with(trace.setSpan(parent, span), next);
    } finally {
      const route = routePattern(ctx);
      span.updateName(`${ctx.method} ${route}`);
      span.setAttributes({
        'http.route': route,
        'http.response.status_code': ctx.status,
        ...(ctx.state.requestId && { 'http.request_id': ctx.state.requestId }),
      });
      if (ctx.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  };
}
