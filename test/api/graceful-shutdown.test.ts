import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { createOrm, type Orm } from '../../src/db/orm';
import { createUser } from '../../src/users/user.service';
import { startApiProcess, type ApiProcess } from '../support/api-process';
import { Harness } from '../support/harness';
import { readTestEnv } from '../setup/test-env';

// Graceful shutdown as docs/deployment.md describes it: on SIGTERM the API stops accepting
// connections and finishes the requests it has; the worker stops polling and lets running
// activities finish within SHUTDOWN_GRACE_MS.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('API process on SIGTERM', () => {
  let api: ApiProcess;
  let orm: Orm;

  beforeAll(async () => {
    api = await startApiProcess({ env: { SHUTDOWN_GRACE_MS: '10000' } });
    orm = await createOrm({ url: readTestEnv().databaseUrl, poolMax: 2 });
  }, 90_000);

  afterAll(async () => {
    api?.kill();
    await orm?.close(true);
  });

  it('finishes a request in flight, refuses new connections, then exits 0', async () => {
    const { token } = await createUser(orm.em.fork(), `user-${randomUUID()}@example.com`);
    const body = JSON.stringify({ event_name: 'signup', event_type: 'conversion' });
    const half = body.length >> 1;
    let finishBody!: () => void;
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: api.port,
          method: 'POST',
          path: '/api/v1/events',
          agent: false,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        },
      );
      req.on('error', reject);
      // The request is in flight while its body is still arriving.
      req.write(body.slice(0, half));
      finishBody = () => req.end(body.slice(half));
    });
    await sleep(300);
    const exited = new Promise<number | null>((resolve) =>
      api.child.once('exit', (code) => resolve(code)),
    );
    api.child.kill('SIGTERM');
    await sleep(500);
    await expect(fetch(`${api.url}/health`)).rejects.toThrow();

    finishBody();
    const res = await response;
    expect(res.status).toBe(202);
    expect(JSON.parse(res.text)).toMatchObject({ status: 'received' });
    expect(await exited).toBe(0);
    expect(api.output()).toContain('API stopped');
  }, 60_000);
});

describe('worker shutdown', () => {
  it('lets a running activity finish before it stops', async () => {
    let started!: () => void;
    const activityStarted = new Promise<void>((r) => (started = r));
    let finished = false;
    const h = await Harness.start({
      wrapActivities: (a) => ({
        ...a,
        async persistEvent(...args: Parameters<typeof a.persistEvent>) {
          started();
          await sleep(1000);
          const result = await a.persistEvent(...args);
          finished = true;
          return result;
        },
      }),
    });
    const user = await h.createUser();
    const res = await h.request('POST', '/api/v1/events', {
      token: user.token,
      body: { event_name: 'signup', event_type: 'conversion' },
    });
    await activityStarted;
    // Shuts the worker down (SHUTDOWN_GRACE_MS is 2000 in the harness) and waits for it.
    await h.close();
    expect(finished).toBe(true);

    const orm = await createOrm({ url: readTestEnv().databaseUrl, poolMax: 1 });
    try {
      const rows = await orm.em
        .fork()
        .getConnection()
        .execute<{ status: string }[]>('select status from events where id = ?', [
          res.body.event_id,
        ]);
      expect(rows[0]!.status).toBe('processed');
    } finally {
      await orm.close(true);
    }
  });
});
