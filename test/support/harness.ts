import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type Koa from 'koa';
import type { createActivities } from '../../activities';
import { loadConfig, type Config } from '../../src/config';
import type { Orm } from '../../src/db/orm';
import { createLogger, type Logger } from '../../src/logger';
import type { Tracing } from '../../src/tracing';
import type { Outbox } from '../../src/events/outbox';
import type { RunSweeper } from '../../src/events/run-sweeper';
import { createUser } from '../../src/users/user.service';
import { findFreePort } from '../../src/dev/child-process';
import { startInProcessService, type InProcessService } from '../../src/dev/in-process-service';
import type { AppState } from '../../src/http/state';
import { serveMetrics, type MetricsServer } from '../../src/worker/metrics-server';
import { installTemporalRuntime } from '../../src/worker/runtime';
import { createWorkerMetrics } from '../../src/worker/worker-metrics';
import { workerProbes } from '../../src/worker/worker-probes';
import { readTestEnv } from '../setup/test-env';

type Activities = ReturnType<typeof createActivities>;

let runtime: Promise<{ sdkMetricsUrl: string }> | undefined;

/**
 * Installs the Temporal Runtime once per test process (each jest worker is one), with the SDK's
 * metrics exporter on a free port, before the first native connection.
 */
// Activity failures are expected in fault tests; the SDK logs them at warn, so tests show errors only.
function ensureRuntime(): Promise<{ sdkMetricsUrl: string }> {
  runtime ??= findFreePort().then((port) => {
    installTemporalRuntime(createLogger(process.env.TEST_LOG_LEVEL ?? 'error'), {
      sdkMetricsAddress: `127.0.0.1:${port}`,
    });
    return { sdkMetricsUrl: `http://127.0.0.1:${port}/metrics` };
  });
  return runtime;
}

export interface HarnessOptions {
  /** Environment overrides, as the service would read them. */
  env?: Record<string, string>;
  /** Fault injection around the real activities. */
  wrapActivities?: (a: Activities) => Activities;
  /** Start no worker: workflows stay queued (to test what happens before processing). */
  noWorker?: boolean;
  /** Where the API's Temporal client connects (a dead address simulates an outage). */
  apiTemporalAddress?: string;
  /** Run against another database (e.g. one of the test's own, see `createTestDatabase`). */
  databaseUrl?: string;
  /**
   * Sweep for rows left `received`, as the API process does. Off by default, so that tests see
   * exactly what the API itself starts.
   */
  outboxSweep?: boolean;
  /**
   * Sweep for `queued` and `processing` rows whose run is gone (`run-sweeper.ts`), every 200 ms,
   * for rows unchanged for 500 ms. Off by default: it scans the whole database, so a test that
   * turns it on has a database of its own.
   */
  runSweep?: boolean;
  /** Where the service's log lines go (at LOG_LEVEL), for tests that read them. */
  logDestination?: { write(line: string): void };
  /** Where API and worker log (access log tests); silent, or TEST_LOG_LEVEL, when omitted. */
  logger?: Logger;
  /** Trace the API, the workflow starts, the workflows and the activities. */
  tracing?: Tracing;
  /** A workflow bundle of the test's own (one with the tracing interceptors). */
  workflowBundlePath?: string;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * The real service in-process: API on an ephemeral port, a worker on a task queue of its own
 * (so test files never process each other's workflows), real Temporal and PostgreSQL.
 */
export class Harness {
  private constructor(
    private readonly service: InProcessService,
    readonly config: Config,
    /** The worker's own metrics endpoint; undefined with `noWorker`. */
    readonly workerMetricsUrl: string | undefined,
    /** The Temporal SDK's metrics endpoint of this test process. */
    readonly sdkMetricsUrl: string,
    private readonly metricsServer: MetricsServer | undefined,
  ) {}

  get orm(): Orm {
    return this.service.orm;
  }
  get temporal(): Client {
    return this.service.temporal;
  }
  get baseUrl(): string {
    return this.service.baseUrl;
  }
  /** The Koa app behind `baseUrl`, for tests that inspect its routers. */
  get app(): Koa<AppState> {
    return this.service.app;
  }
  /** Starts what the API commits; tests may read its backlog figures. */
  get outbox(): Outbox {
    return this.service.outbox;
  }
  /** Finds queued and processing rows whose run is gone; tests run its passes with `sweep()`. */
  get sweeper(): RunSweeper {
    return this.service.sweeper;
  }

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const testEnv = readTestEnv();
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DATABASE_URL: options.databaseUrl ?? testEnv.databaseUrl,
      TEMPORAL_ADDRESS: testEnv.temporalAddress,
      TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
      EVENT_RETRY_INITIAL_INTERVAL_MS: '50',
      EVENT_RETRY_MAX_INTERVAL_MS: '200',
      SHUTDOWN_GRACE_MS: '2000',
      OUTBOX_INTERVAL_MS: options.outboxSweep ? '200' : '0',
      OUTBOX_GRACE_MS: '500',
      RUN_SWEEP_INTERVAL_MS: options.runSweep ? '200' : '0',
      RUN_SWEEP_STALE_MS: '500',
      // Test files share a database; admission is tested on a database of its own.
      OUTBOX_MAX_IN_FLIGHT: '100000',
      ...options.env,
    });
    const { sdkMetricsUrl } = await ensureRuntime();
    const logger = options.logger ?? createLogger(config.logLevel, {}, options.logDestination);
    const metrics = createWorkerMetrics({
      maxEventTypes: config.metrics.maxEventTypes,
      maxEventNames: config.metrics.maxEventNames,
    });
    const service = await startInProcessService({
      config,
      logger,
      worker: !options.noWorker && {
        workflowBundle: { codePath: options.workflowBundlePath ?? testEnv.workflowBundlePath },
        wrapActivities: options.wrapActivities,
        metrics,
      },
      apiTemporalAddress: options.apiTemporalAddress,
      tracing: options.tracing,
    });
    const metricsServer =
      service.worker &&
      (await serveMetrics(metrics.registry, {
        host: '127.0.0.1',
        port: 0,
        token: config.metrics.token,
        logger,
        health: workerProbes(service.worker, service.orm, service.connection),
      }));
    return new Harness(
      service,
      config,
      metricsServer && `http://127.0.0.1:${metricsServer.port}/metrics`,
      sdkMetricsUrl,
      metricsServer,
    );
  }

  /** A new user with a unique e-mail address; returns its id, API token and write key. */
  async createUser(): Promise<{ id: string; token: string; writeKey: string }> {
    const user = await createUser(this.orm.em.fork(), `user-${randomUUID()}@example.com`);
    return { id: user.id, token: user.token, writeKey: user.write_key };
  }

  /** A real HTTP request to the API. `body` objects are sent as JSON; strings as they are. */
  async request<T = any>(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Non-JSON bodies are returned as text for the assertion to show.
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  /**
   * The result of a workflow the API started. Workflows start just after the API answers, so
   * this first waits for the run to exist.
   */
  async workflowResult<T = any>(workflowId: string, timeoutMs = 10_000): Promise<T> {
    const handle = this.temporal.workflow.getHandle(workflowId);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await handle.describe();
        break;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError) || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    return handle.result() as Promise<T>;
  }

  /** Polls GET /api/v1/events/:id until the event's status is one of `statuses`. */
  async waitForEvent(
    token: string,
    eventId: string,
    statuses: string[] = ['processed', 'failed'],
    timeoutMs = 30_000,
  ): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    let last: ApiResponse | undefined;
    while (Date.now() < deadline) {
      last = await this.request('GET', `/api/v1/events/${eventId}`, { token });
      if (last.status === 200 && statuses.includes(last.body.status)) return last.body;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      `event ${eventId} did not reach ${statuses.join('|')} in ${timeoutMs} ms; last: ${JSON.stringify(last?.body)}`,
    );
  }

  async close(): Promise<void> {
    await this.metricsServer?.close();
    await this.service.stop();
  }
}
