import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createOrm, type Orm } from '../../src/db/orm';
import { createUser } from '../../src/users/user.service';
import { startApiProcess, type ApiProcess } from '../support/api-process';
import { basicAuth } from '../support/tracking';
import { readTestEnv } from '../setup/test-env';

// Maximum-size bodies in parallel: 8 single events of 2 MB and 4 batches of 16 MB, each a flat
// array of numbers (the shape that costs the most memory once parsed). The API runs with the
// heap limit the Docker image sets, so holding too much at once ends the process; the bounds
// below are the answer to "how much memory does the API need", with room for a busy machine.
// Before the body budget and bound parameters in the batch insert, this run peaked at about
// 1.9 GB and kept /health waiting for 9 s.
const PEAK_RSS_BOUND_MB = 900;
const HEALTH_LATENCY_BOUND_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const zeros = (n: number) => `[${new Array<string>(n).fill('0').join(',')}]`;
const statusKb = (pid: number, field: string) =>
  Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe('maximum-size bodies in parallel', () => {
  let api: ApiProcess;
  let orm: Orm;

  beforeAll(async () => {
    api = await startApiProcess({ nodeArgs: ['--max-old-space-size=512'] });
    orm = await createOrm({ url: readTestEnv().databaseUrl, poolMax: 2 });
  }, 90_000);

  afterAll(async () => {
    api?.kill();
    await orm?.close(true);
  });

  it('accepts them all with bounded memory and a responsive /health', async () => {
    const user = await createUser(orm.em.fork(), `user-${randomUUID()}@example.com`);
    const flat = `{"event_name":"flat","event_type":"load","payload":{"data":${zeros(1_040_000)}}}`;
    const event = `{"event_name":"batched","event_type":"load","payload":{"data":${zeros(7_900)}}}`;
    const batch = `{"events":[${new Array<string>(1000).fill(event).join(',')}]}`;
    expect(flat.length).toBeGreaterThan(2_000_000);
    expect(batch.length).toBeGreaterThan(15_500_000);

    const headers = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' };
    const post = (path: string, body: string) =>
      fetch(`${api.url}${path}`, { method: 'POST', headers, body }).then(async (r) => ({
        status: r.status,
        text: await r.text(),
      }));
    let slowestHealthMs = 0;
    let sending = true;
    const watchHealth = (async () => {
      while (sending) {
        const started = Date.now();
        const res = await fetch(`${api.url}/health`);
        expect(res.status).toBe(200);
        slowestHealthMs = Math.max(slowestHealthMs, Date.now() - started);
        await sleep(50);
      }
    })();
    const answers = await Promise.all([
      ...Array.from({ length: 8 }, () => post('/api/v1/events', flat)),
      ...Array.from({ length: 4 }, () => post('/api/v1/events/batch', batch)),
    ]).catch((err: Error) => {
      // Out of memory shows as reset connections: say so, with what the process printed.
      throw new Error(
        `${err.message}; API exit: ${api.child.signalCode ?? api.child.exitCode}\n${api.output().slice(-2000)}`,
      );
    });
    sending = false;
    await watchHealth;

    const peakMb = statusKb(api.child.pid!, 'VmHWM') / 1024;
    console.log(
      `hostile sizes: peak RSS ${peakMb.toFixed(0)} MB, slowest /health ${slowestHealthMs} ms`,
    );
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    const stored = await orm.em
      .fork()
      .getConnection()
      .execute<{ count: string }[]>('select count(*) from events where user_id = ?', [user.id]);
    expect(Number(stored[0]!.count)).toBe(8 + 4 * 1000);
    expect(peakMb).toBeLessThan(PEAK_RSS_BOUND_MB);
    expect(slowestHealthMs).toBeLessThan(HEALTH_LATENCY_BOUND_MS);
  }, 120_000);
});

// What anyone on the internet can send the tracking routes, all at once: gzip bodies of 16 KB
// that expand to 17 MB (past the batch limit), without a key and with one, and a batch of a
// million bare messages. Before nothing was read ahead of the key and the body budget was taken
// before reading, each of these bodies was decompressed in full, at once: 1.1 GB at the peak.
// In the same file as the test above, so that the two never run at once (jest runs files in
// parallel), each measuring an API process of its own.
const UNAUTHENTICATED_BOMBS = 100;
const AUTHENTICATED_BOMBS = 8;
const TRACKING_PEAK_RSS_BOUND_MB = 450;
const MB = 1024 * 1024;

describe('hostile tracking requests in parallel', () => {
  let api: ApiProcess;
  let orm: Orm;

  beforeAll(async () => {
    api = await startApiProcess({ nodeArgs: ['--max-old-space-size=512'] });
    orm = await createOrm({ url: readTestEnv().databaseUrl, poolMax: 2 });
  }, 90_000);

  afterAll(async () => {
    api?.kill();
    await orm?.close(true);
  });

  it('refuses them all with bounded memory and a responsive /health, and stays up', async () => {
    const user = await createUser(orm.em.fork(), `user-${randomUUID()}@example.com`);
    // Whitespace is valid JSON around a value: only the size makes these bodies wrong.
    const bomb = gzipSync(Buffer.alloc(17 * MB, ' '), { level: 9 });
    expect(bomb.length).toBeLessThan(20 * 1024);
    const bare = '{"type":"track"}';
    const count = Math.floor((16 * MB - 16) / (bare.length + 1));
    const million = `{"batch":[${new Array<string>(count).fill(bare).join(',')}]}`;
    expect(count).toBeGreaterThan(900_000);

    const post = (path: string, body: Buffer | string, headers: Record<string, string>) =>
      fetch(`${api.url}${path}`, { method: 'POST', headers, body }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { error?: { code: string } },
      }));
    const anonymous = { 'content-type': 'text/plain', 'content-encoding': 'gzip' };
    const keyed = { ...anonymous, authorization: basicAuth(user.write_key) };

    let slowestHealthMs = 0;
    let sending = true;
    const watchHealth = (async () => {
      while (sending) {
        const started = Date.now();
        const res = await fetch(`${api.url}/health`);
        expect(res.status).toBe(200);
        slowestHealthMs = Math.max(slowestHealthMs, Date.now() - started);
        await sleep(50);
      }
    })();
    const answers = await Promise.all([
      ...Array.from({ length: UNAUTHENTICATED_BOMBS }, (_, i) =>
        post(i % 2 ? '/v1/batch' : '/v1/t', bomb, anonymous),
      ),
      ...Array.from({ length: AUTHENTICATED_BOMBS }, () => post('/v1/batch', bomb, keyed)),
      post('/v1/batch', million, {
        'content-type': 'application/json',
        authorization: basicAuth(user.write_key),
      }),
    ]).catch((err: Error) => {
      // Out of memory shows as reset connections: say so, with what the process printed.
      throw new Error(
        `${err.message}; API exit: ${api.child.signalCode ?? api.child.exitCode}\n${api.output().slice(-2000)}`,
      );
    });
    sending = false;
    await watchHealth;

    const peakMb = statusKb(api.child.pid!, 'VmHWM') / 1024;
    console.log(
      `hostile tracking: peak RSS ${peakMb.toFixed(0)} MB, slowest /health ${slowestHealthMs} ms`,
    );
    expect(peakMb).toBeLessThan(TRACKING_PEAK_RSS_BOUND_MB);
    expect(slowestHealthMs).toBeLessThan(HEALTH_LATENCY_BOUND_MS);
    expect(answers.map((a) => `${a.status} ${a.body.error?.code}`)).toEqual(
      answers.map(() => '400 payload_too_large'),
    );

    // Still serving, and nothing of the refused requests was stored.
    const ok = await post('/v1/track', JSON.stringify({ event: 'After', userId: 'u-1' }), {
      authorization: basicAuth(user.write_key),
    });
    expect(ok).toEqual({ status: 200, body: { success: true } });
    const stored = await orm.em
      .fork()
      .getConnection()
      .execute<{ count: string }[]>('select count(*) from events where user_id = ?', [user.id]);
    expect(Number(stored[0]!.count)).toBe(1);
  }, 120_000);
});
