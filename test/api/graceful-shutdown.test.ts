import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { createOrm, type Orm } from '../../src/db/orm';
import { findFreePort } from '../../src/dev/temporal-dev-server';
import { createUser } from '../../src/users/user.service';
import { Harness } from '../support/harness';
import { readTestEnv } from '../setup/test-env';

// Graceful shutdown as docs/deployment.md describes it: on SIGTERM the API stops accepting
// connections and finishes the requests it has; the worker stops polling and lets running
// activities finish within SHUTDOWN_GRACE_MS.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('API process on SIGTERM', () => {
  let api: ChildProcess;
  let orm: Orm;
  let port: number;
  let output = '';

  beforeAll(async () => {
    const env = readTestEnv();
    port = await findFreePort();
    api = spawn(
      process.execPath,
      [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'src/server.ts'],
      {
        cwd: join(__dirname, '../..'),
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'test',
          LOG_LEVEL: 'info',
          API_HOST: '127.0.0.1',
          API_PORT: String(port),
          DATABASE_URL: env.databaseUrl,
          TEMPORAL_ADDRESS: env.temporalAddress,
          // No worker polls this queue: the event is accepted and waits, which is all we need.
          TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
          OUTBOX_INTERVAL_MS: '0',
          SHUTDOWN_GRACE_MS: '10000',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    api.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    api.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    orm = await createOrm({ url: env.databaseUrl, poolMax: 2 });
    const deadline = Date.now() + 60_000;
    while (
      !(await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline || api.exitCode !== null)
        throw new Error(`API did not start:\n${output}`);
      await sleep(200);
    }
  }, 90_000);

  afterAll(async () => {
    if (api.exitCode === null) api.kill('SIGKILL');
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
          port,
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
      api.once('exit', (code) => resolve(code)),
    );
    api.kill('SIGTERM');
    await sleep(500);
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();

    finishBody();
    const res = await response;
    expect(res.status).toBe(202);
    expect(JSON.parse(res.text)).toMatchObject({ status: 'received' });
    expect(await exited).toBe(0);
    expect(output).toContain('API stopped');
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
