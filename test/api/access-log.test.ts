import { Writable } from 'node:stream';
import pino from 'pino';
import { Harness } from '../support/harness';

/** Log lines the service wrote, parsed. */
class Lines extends Writable {
  readonly all: Record<string, any>[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const line of chunk.toString().split('\n').filter(Boolean))
      this.all.push(JSON.parse(line));
    done();
  }
  access(): Record<string, any>[] {
    return this.all.filter((l) => l.component === 'access');
  }
}

const event = {
  event_name: 'signup',
  event_type: 'conversion',
  payload: { secret_marker: 'payload-must-not-be-logged' },
};

describe('access log and request ids', () => {
  let h: Harness;
  let lines: Lines;
  let user: { id: string; token: string };

  beforeAll(async () => {
    lines = new Lines();
    h = await Harness.start({ logger: pino({ level: 'info' }, lines) });
    user = await h.createUser();
  });
  afterAll(() => h.close());

  it('logs one line per request: route pattern, status, duration, ids; no token or payload', async () => {
    const res = await h.request('POST', '/api/v1/events', {
      token: user.token,
      body: event,
      headers: { 'x-request-id': 'lb-1234' },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-request-id')).toBe('lb-1234');
    await h.request('GET', `/api/v1/events/${res.body.event_id}`, { token: user.token });

    const mine = lines.access().filter((l) => l.user_id === user.id);
    expect(mine).toHaveLength(2);
    expect(mine[0]).toMatchObject({
      msg: 'request',
      method: 'POST',
      route: '/api/v1/events',
      status: 202,
      request_id: 'lb-1234',
      user_id: user.id,
      duration_ms: expect.any(Number),
    });
    expect(mine[1]).toMatchObject({ method: 'GET', route: '/api/v1/events/:id', status: 200 });
    const text = JSON.stringify(lines.all);
    expect(text).not.toContain(user.token);
    expect(text).not.toContain('payload-must-not-be-logged');
  });

  it('generates an id when none (or an unusable one) is sent, errors included', async () => {
    const none = await h.request('GET', '/api/v1/events/nope');
    expect(none.status).toBe(401);
    const id = none.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.access().at(-1)).toMatchObject({ status: 401, request_id: id, user_id: null });

    const odd = await h.request('GET', '/health', { headers: { 'x-request-id': 'a b\u00e9' } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('carries the request id into the workflow (its memo, which its log lines read)', async () => {
    const res = await h.request('POST', '/api/v1/events', {
      token: user.token,
      body: event,
      headers: { 'x-request-id': 'trace-me-42' },
    });
    await h.waitForEvent(user.token, res.body.event_id);
    const description = await h.temporal.workflow.getHandle(res.body.workflow_id).describe();
    expect(description.memo).toEqual({ request_id: 'trace-me-42' });
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY is set', async () => {
    await h.request('GET', '/health', { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(lines.access().at(-1)!.client_ip).not.toBe('203.0.113.7');
  });
});

describe('TRUST_PROXY', () => {
  it('takes the client address the load balancer appended to X-Forwarded-For', async () => {
    const lines = new Lines();
    const h = await Harness.start({
      logger: pino({ level: 'info' }, lines),
      env: { TRUST_PROXY: 'true' },
      noWorker: true,
    });
    try {
      // A client may send its own X-Forwarded-For; the last entry is the one our proxy added.
      await h.request('GET', '/health', {
        headers: { 'x-forwarded-for': '10.0.0.1, 203.0.113.7' },
      });
      expect(lines.access().at(-1)!.client_ip).toBe('203.0.113.7');
    } finally {
      await h.close();
    }
  });
});
