import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { Config } from '../config';
import { connectionOptions } from './connection-options';
import { requestIdClientInterceptor } from './request-id-interceptor';

/**
 * A client whose connection is made on first use, so the API starts (and accepts events into
 * PostgreSQL) even while Temporal is down.
 */
export function createTemporalClient(
  temporal: Config['temporal'],
  /** `tracing`: each workflow start gets a span, and its workflow continues the trace. */
  options: { tracing?: boolean } = {},
): Client {
  const connection = Connection.lazy({
    ...connectionOptions(temporal),
    connectTimeout: temporal.startTimeoutMs,
  });
  return new Client({
    connection,
    namespace: temporal.namespace,
    interceptors: {
      workflow: [
        requestIdClientInterceptor(),
        ...(options.tracing ? [new OpenTelemetryWorkflowClientInterceptor()] : []),
      ],
    },
  });
}
