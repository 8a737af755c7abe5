import { Harness } from '../support/harness';
import { parseSamples, sampleValue, waitForMetrics } from '../support/prometheus';

const deepPayload = () => {
  let payload: unknown = 1;
  for (let i = 0; i < 11; i++) payload = { k: payload };
  return payload;
};

describe('metrics after real events', () => {
  let h: Harness;
  let user: { id: string; token: string };
  let processedId: string;

  beforeAll(async () => {
    // A cap of two event types, so that the third one shows the fold into "other".
    h = await Harness.start({ env: { WORKER_METRICS_MAX_EVENT_TYPES: '2' } });
    user = await h.createUser();
    const post = async (eventType: string, payload: unknown) => {
      const res = await h.request('POST', '/api/v1/events', {
        token: user.token,
        body: { event_name: 'page_view', event_type: eventType, payload },
      });
      expect(res.status).toBe(202);
      await h.waitForEvent(user.token, res.body.event_id);
      return res.body.event_id as string;
    };
    // One at a time: the cap admits event types in the order the worker first sees them.
    processedId = await post('engagement', { page: '/home' });
    await post('engagement', { page: '/pricing' });
    await post('deep', deepPayload());
    await post('third-type', { a: 1 });
    await h.request('GET', `/api/v1/events/${processedId}`, { token: user.token });
    await h.request('GET', `/api/v1/events/${processedId}`);
    await h.request('GET', '/no/such/route');
  });
  afterAll(() => h.close());

  it('the API counts requests by route pattern and status, and times them', async () => {
    const res = await h.request('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text: string = res.body;
    const post = { method: 'POST', route: '/api/v1/events', status: '202' };
    expect(sampleValue(text, 'http_requests_total', post)).toBe(4);
    expect(sampleValue(text, 'http_request_duration_seconds_count', post)).toBe(4);
    expect(sampleValue(text, 'http_request_duration_seconds_sum', post)).toBeGreaterThan(0);
    expect(sampleValue(text, 'http_request_duration_seconds_bucket', { ...post, le: '+Inf' })).toBe(
      4,
    );
    expect(
      sampleValue(text, 'http_requests_total', {
        method: 'GET',
        route: '/api/v1/events/:id',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(5);
    // Rejected by the router's auth middleware: still labelled with the route it was meant for.
    expect(
      sampleValue(text, 'http_requests_total', {
        method: 'GET',
        route: '/api/v1/events/:id',
        status: '401',
      }),
    ).toBe(1);
    expect(
      sampleValue(text, 'http_requests_total', {
        method: 'GET',
        route: 'unmatched',
        status: '404',
      }),
    ).toBe(1);
    // Raw paths would make one series per event: the id must appear nowhere.
    expect(text).not.toContain(processedId);
  });

  it('the API counts accepted events and exports Node process metrics', async () => {
    const text = (await h.request('GET', '/metrics')).body as string;
    expect(sampleValue(text, 'events_accepted_total')).toBe(4);
    expect(sampleValue(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sampleValue(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('the worker counts processed and failed events by capped event type', async () => {
    const text = await waitForMetrics(h.workerMetricsUrl!, (t) => {
      expect(sampleValue(t, 'events_processed_total', { event_type: 'other' })).toBe(1);
    });
    expect(sampleValue(text, 'events_processed_total', { event_type: 'engagement' })).toBe(2);
    expect(
      sampleValue(text, 'events_failed_total', { event_type: 'deep', reason: 'validation_error' }),
    ).toBe(1);
    const types = parseSamples(text)
      .filter((s) => s.name.startsWith('events_'))
      .map((s) => s.labels.event_type);
    expect(types).not.toContain('third-type');
  });

  it("the worker counts a batch's events by their own types", async () => {
    const res = await h.request('POST', '/api/v1/events/batch', {
      token: user.token,
      body: {
        events: [
          { event_name: 'page_view', event_type: 'engagement', payload: { page: '/a' } },
          { event_name: 'page_view', event_type: 'engagement', payload: { page: '/b' } },
          { event_name: 'page_view', event_type: 'deep', payload: deepPayload() },
        ],
      },
    });
    expect(res.status).toBe(202);
    await h.workflowResult(res.body.workflow_id);
    await waitForMetrics(h.workerMetricsUrl!, (t) => {
      expect(sampleValue(t, 'events_processed_total', { event_type: 'engagement' })).toBe(4);
      expect(
        sampleValue(t, 'events_failed_total', { event_type: 'deep', reason: 'validation_error' }),
      ).toBe(2);
    });
  });

  it('counts only new events of a batch as accepted', async () => {
    const count = async () =>
      sampleValue((await h.request('GET', '/metrics')).body as string, 'events_accepted_total') ??
      0;
    const key = `metrics-${Date.now()}`;
    const batch = (events: unknown[]) =>
      h.request('POST', '/api/v1/events/batch', { token: user.token, body: { events } });
    const e = { event_name: 'signup', event_type: 'conversion' };
    const before = await count();
    expect((await batch([{ ...e, idempotency_key: key }, e])).status).toBe(202);
    expect(await count()).toBe(before + 2);
    expect((await batch([{ ...e, idempotency_key: key }, e])).status).toBe(202);
    expect(await count()).toBe(before + 3);
    expect((await batch([{ ...e, idempotency_key: key }])).status).toBe(200);
    expect(await count()).toBe(before + 3);
  });

  it('the worker times every activity attempt by activity type and outcome', async () => {
    const text = await waitForMetrics(h.workerMetricsUrl!, (t) => {
      const count = (activity: string) =>
        sampleValue(t, 'activity_duration_seconds_count', {
          activity_type: activity,
          outcome: 'completed',
        });
      expect(count('fetchEvent')).toBe(4);
      expect(count('persistEvent')).toBe(3);
      expect(count('markEventFailed')).toBe(1);
    });
    const failedValidation = {
      activity_type: 'validatePayload',
      outcome: 'failed',
    };
    expect(sampleValue(text, 'activity_duration_seconds_count', failedValidation)).toBe(1);
    expect(
      sampleValue(text, 'activity_duration_seconds_bucket', { ...failedValidation, le: '+Inf' }),
    ).toBe(1);
    expect(sampleValue(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('the Temporal SDK exports its own runtime metrics', async () => {
    const text = await waitForMetrics(h.sdkMetricsUrl, (t) => {
      const names = new Set(parseSamples(t).map((s) => s.name));
      expect(names).toContain('temporal_workflow_completed');
    });
    const samples = parseSamples(text);
    expect(
      samples.some(
        (s) =>
          s.name === 'temporal_activity_execution_latency_count' &&
          s.labels.task_queue === h.config.temporal.taskQueue &&
          s.value > 0,
      ),
    ).toBe(true);
  });

  it('the worker metrics endpoint serves nothing but GET /metrics', async () => {
    const other = await fetch(h.workerMetricsUrl!.replace('/metrics', '/'));
    expect(other.status).toBe(404);
  });
});

describe('metrics of a batch that gives up', () => {
  it('counts its invalid events as validation errors and the rest as errors', async () => {
    const h = await Harness.start({
      env: { EVENT_MAX_RETRIES: '0' },
      wrapActivities: (real) => ({
        ...real,
        // The chunk step has failed the invalid event by then; the rest fail with the batch.
        persistBatch: () => Promise.reject(new Error('database unavailable')),
      }),
    });
    try {
      const { token } = await h.createUser();
      const res = await h.request('POST', '/api/v1/events/batch', {
        token,
        body: {
          events: [
            { event_name: 'page_view', event_type: 'valid', payload: { page: '/c' } },
            { event_name: 'page_view', event_type: 'deep', payload: deepPayload() },
          ],
        },
      });
      expect(res.status).toBe(202);
      await h.temporal.workflow
        .getHandle(res.body.workflow_id)
        .result()
        .catch(() => undefined);
      await waitForMetrics(h.workerMetricsUrl!, (t) => {
        expect(
          sampleValue(t, 'events_failed_total', { event_type: 'valid', reason: 'error' }),
        ).toBe(1);
        expect(
          sampleValue(t, 'events_failed_total', { event_type: 'deep', reason: 'validation_error' }),
        ).toBe(1);
      });
      const t = await (await fetch(h.workerMetricsUrl!)).text();
      expect(sampleValue(t, 'events_failed_total', { event_type: 'deep', reason: 'error' })).toBe(
        undefined,
      );
    } finally {
      await h.close();
    }
  });
});

describe('metrics settings', () => {
  it('METRICS_TOKEN guards the API and worker endpoints', async () => {
    const token = 'metrics-token-0123456789';
    const h = await Harness.start({ env: { METRICS_TOKEN: token } });
    try {
      expect((await h.request('GET', '/metrics')).status).toBe(401);
      const wrong = await h.request('GET', '/metrics', { token: 'metrics-token-9876543210' });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error.code).toBe('unauthorized');
      const right = await h.request('GET', '/metrics', { token });
      expect(right.status).toBe(200);
      expect(right.body).toContain('http_requests_total');

      expect((await fetch(h.workerMetricsUrl!)).status).toBe(401);
      const worker = await fetch(h.workerMetricsUrl!, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(worker.status).toBe(200);
      expect(await worker.text()).toContain('activity_duration_seconds');
    } finally {
      await h.close();
    }
  });

  it('METRICS_ENABLED=false removes GET /metrics from the API', async () => {
    const h = await Harness.start({ env: { METRICS_ENABLED: 'false' }, noWorker: true });
    try {
      const res = await h.request('GET', '/metrics');
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    } finally {
      await h.close();
    }
  });
});
