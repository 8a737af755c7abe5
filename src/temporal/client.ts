import {
  Client,
  OperatorService,
  WorkflowService,
  type ConnectionLike,
  type Metadata,
} from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';
import { connectionOptions } from './connection-options';
import { requestIdClientInterceptor } from './request-id-interceptor';

/**
 * The API's client. Its connection is the SDK's native one (the worker's Rust client), which
 * costs the API's event loop about half the CPU per workflow start of the pure-JavaScript gRPC
 * client; and it is made on first use, so the API starts (and accepts events into PostgreSQL)
 * even while Temporal is down.
 */
export function createTemporalClient(
  temporal: Config['temporal'],
  /** `tracing`: each workflow start gets a span, and its workflow continues the trace. */
  options: { tracing?: boolean } = {},
): Client {
  return new Client({
    connection: new LazyNativeConnection(temporal),
    namespace: temporal.namespace,
    interceptors: {
      workflow: [
        requestIdClientInterceptor(),
        ...(options.tracing ? [new OpenTelemetryWorkflowClientInterceptor()] : []),
      ],
    },
  });
}

/**
 * A `NativeConnection` made when a call first needs it, and made again on the next call after
 * a failed attempt. Once made, the native client reconnects by itself through outages.
 */
export class LazyNativeConnection implements ConnectionLike {
  readonly plugins = [];
  readonly workflowService: WorkflowService;
  readonly operatorService: OperatorService;
  private connecting: Promise<NativeConnection> | undefined;
  private closed = false;

  constructor(private readonly temporal: Config['temporal']) {
    this.workflowService = this.service(
      (rpc) => WorkflowService.create(rpc, false, false),
      (c) => c.workflowService,
    );
    this.operatorService = this.service(
      (rpc) => OperatorService.create(rpc, false, false),
      (c) => c.operatorService,
    );
  }

  /** Connects now; rejects when Temporal cannot be reached with the configured settings. */
  async ensureConnected(): Promise<void> {
    await this.connect();
  }

  withDeadline<R>(deadline: number | Date, fn: () => Promise<R>): Promise<R> {
    return this.connect().then((c) => c.withDeadline(deadline, fn));
  }

  withMetadata<R>(metadata: Metadata, fn: () => Promise<R>): Promise<R> {
    return this.connect().then((c) => c.withMetadata(metadata, fn));
  }

  withAbortSignal<R>(signal: AbortSignal, fn: () => Promise<R>): Promise<R> {
    return this.connect().then((c) => c.withAbortSignal(signal, fn));
  }

  async close(): Promise<void> {
    this.closed = true;
    const connecting = this.connecting;
    this.connecting = undefined;
    await connecting?.then(
      (c) => c.close(),
      () => undefined,
    );
  }

  private connect(): Promise<NativeConnection> {
    if (this.closed) return Promise.reject(new Error('the Temporal connection is closed'));
    this.connecting ??= NativeConnection.connect(connectionOptions(this.temporal)).catch(
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  /**
   * A service whose every method connects first, then calls the native connection's own. The
   * call runs within `withDeadline` and friends of that connection (their context is async-local
   * and follows the await), so deadlines and metadata apply as on a connection made eagerly. Its
   * methods are its own properties, as on the SDK's services, one per RPC of the definition.
   */
  private service<S extends object>(
    create: (rpcImpl: () => void) => S,
    of: (c: NativeConnection) => S,
  ): S {
    const service: Record<string, (request: unknown) => Promise<unknown>> = {};
    // The SDK's service object has one own method per RPC (and `rpcImpl`, `end`, ...).
    const rpcs = Object.entries(create(() => undefined)).filter(
      ([name, fn]) => typeof fn === 'function' && name !== 'rpcImpl',
    );
    for (const [method] of rpcs) {
      service[method] = async (request) => {
        const native = of(await this.connect()) as Record<string, (r: unknown) => unknown>;
        return native[method]!(request);
      };
    }
    return service as S;
  }
}
