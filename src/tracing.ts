import {
  context,
  propagation,
  trace,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { TracingConfig } from './config';

/** Tracing of one process, when it is on. */
export interface Tracing {
  tracer: Tracer;
  /** Where spans go; the worker hands it to the workflow span sink as well. */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** Exports what is buffered; call before the process exits. */
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set (or a test passes its own
 * exporter) and returns undefined otherwise: with tracing off nothing is registered, no
 * interceptor or middleware is added, and the API's global no-op tracer costs nothing.
 * The exporter reads the standard OTEL_EXPORTER_OTLP_* variables (headers, timeout) itself.
 */
export function startTracing(
  config: TracingConfig,
  process: 'api' | 'worker',
  options: { exporter?: SpanExporter } = {},
): Tracing | undefined {
  if (!config.otlpEndpoint && !options.exporter) return undefined;
  const resource = new Resource({
    'service.name': config.serviceName,
    'service.namespace': 'event-ingestion',
    'service.instance.role': process,
  });
  const spanProcessor = options.exporter
    ? // Tests read spans as soon as the work is done.
      new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(config.otlpEndpoint!) }));
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Async context so a span started in an HTTP handler is the parent of what it awaits.
  provider.register({
    contextManager: new AsyncLocalStorageContextManager().enable(),
    propagator: new W3CTraceContextPropagator(),
  });
  return {
    tracer: trace.getTracer('event-ingestion'),
    spanProcessor,
    resource,
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** The OTLP/HTTP traces URL for a base endpoint, as the OpenTelemetry spec derives it. */
function tracesUrl(endpoint: string): string {
  return endpoint.endsWith('/v1/traces') ? endpoint : `${endpoint.replace(/\/$/, '')}/v1/traces`;
}

/** Runs `fn` in a span of `tracer`, recording a thrown error on it. */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Record<string, string | number>,
  fn: () => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  return tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}
