import { Harness } from '../support/harness';

// Probes for orchestrators: the API's /health and /ready, and the same on the worker's
// metrics port, open even when METRICS_TOKEN guards /metrics.

describe('worker probes on the metrics port', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ env: { METRICS_TOKEN: 'a-metrics-token-of-16+' } });
  });
  afterAll(() => h.close());

  it('answers /health and /ready without the metrics token', async () => {
    const base = h.workerMetricsUrl!.replace(/\/metrics$/, '');
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { worker: 'ok', database: 'ok', migrations: 'ok', temporal: 'ok' },
    });
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
  });
});

describe('API readiness while Temporal is unreachable', () => {
  it('is alive but not ready, naming what is down', async () => {
    const h = await Harness.start({ noWorker: true, apiTemporalAddress: '127.0.0.1:1' });
    try {
      expect((await h.request('GET', '/health')).status).toBe(200);
      const ready = await h.request('GET', '/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({
        status: 'not_ready',
        checks: { database: 'ok', migrations: 'ok', temporal: 'unavailable' },
        reasons: { temporal: expect.any(String) },
      });
    } finally {
      await h.close();
    }
  });
});
