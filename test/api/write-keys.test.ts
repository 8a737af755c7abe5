import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { Harness } from '../support/harness';
import { basicAuth } from '../support/tracking';
import { readTestEnv } from '../setup/test-env';

/**
 * The write key is the key a web page shows: it sends events (the tracking routes) and reads
 * nothing. The API token does everything, the tracking routes included.
 */
let h: Harness;
let alice: { id: string; token: string; writeKey: string };
let eventId: string;
let batchId: string;

beforeAll(async () => {
  h = await Harness.start();
  alice = await h.createUser();
  const event = await h.request('POST', '/api/v1/events', {
    token: alice.token,
    body: { event_name: 'signup', event_type: 'conversion' },
  });
  eventId = event.body.event_id;
  const batch = await h.request('POST', '/api/v1/events/batch', {
    token: alice.token,
    body: { events: [{ event_name: 'a', event_type: 't' }] },
  });
  batchId = batch.body.batch_id;
});
afterAll(() => h.close());

const track = (anonymousId: string) => ({
  type: 'track',
  event: 'Viewed',
  anonymousId,
  messageId: randomUUID(),
});

/** POST to a tracking route with the key as analytics SDKs send it. */
const send = (key: string, anonymousId = randomUUID()) =>
  h.request('POST', '/v1/track', {
    body: track(anonymousId),
    headers: { authorization: basicAuth(key) },
  });

/** Every route of the REST API, as a request of each. */
const apiRoutes = (): [string, string, unknown?][] => [
  ['GET', '/api/v1/events'],
  ['GET', `/api/v1/events/${eventId}`],
  ['POST', `/api/v1/events/${eventId}/reprocess`],
  ['POST', '/api/v1/events', { event_name: 'e', event_type: 't' }],
  ['POST', '/api/v1/events/batch', { events: [{ event_name: 'e', event_type: 't' }] }],
  ['GET', `/api/v1/batches/${batchId}`],
  ['POST', '/api/v1/write-key/rotate'],
];

describe('users:create', () => {
  it('gives each user an API token and a write key, told apart by their prefixes', () => {
    expect(alice.token).toMatch(/^evt_[A-Za-z0-9_-]{43}$/);
    expect(alice.writeKey).toMatch(/^evw_[A-Za-z0-9_-]{43}$/);
  });
});

describe('the write key', () => {
  it('sends events on the tracking routes', async () => {
    expect(await send(alice.writeKey)).toMatchObject({ status: 200, body: { success: true } });
    const settings = await h.request('GET', `/v1/projects/${alice.writeKey}/settings`);
    expect(settings.status).toBe(200);
  });

  it('is refused with 401 by every REST route: it reads nothing and changes nothing', async () => {
    const refused =
      'A write key only sends events to the tracking routes (/v1/*); this route needs the API token';
    for (const [method, route, body] of apiRoutes()) {
      const res = await h.request(method, route, { token: alice.writeKey, body });
      expect({ route: `${method} ${route}`, status: res.status, error: res.body.error }).toEqual({
        route: `${method} ${route}`,
        status: 401,
        error: { code: 'unauthorized', message: refused },
      });
    }
  });

  it('lists nothing even for the events it sent', async () => {
    const anon = randomUUID();
    expect((await send(alice.writeKey, anon)).status).toBe(200);
    const listed = await h.request('GET', `/api/v1/events?anonymous_id=${anon}`, {
      token: alice.writeKey,
    });
    expect(listed.status).toBe(401);
    expect(listed.body.events).toBeUndefined();
  });
});

describe('the API token', () => {
  it('serves every REST route and the tracking routes', async () => {
    for (const [method, route, body] of apiRoutes().filter(([, r]) => !r.includes('write-key'))) {
      const res = await h.request(method, route, { token: alice.token, body });
      expect([200, 202, 409]).toContain(res.status);
    }
    expect((await send(alice.token)).status).toBe(200);
  });
});

describe('POST /api/v1/write-key/rotate', () => {
  it('replaces the write key: the old one stops working, the new one works', async () => {
    const user = await h.createUser();
    const res = await h.request('POST', '/api/v1/write-key/rotate', { token: user.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({ write_key: expect.stringMatching(/^evw_[A-Za-z0-9_-]{43}$/) });
    const rotated: string = res.body.write_key;
    expect(rotated).not.toBe(user.writeKey);
    expect((await send(user.writeKey)).status).toBe(401);
    expect((await h.request('GET', `/v1/projects/${user.writeKey}/settings`)).status).toBe(404);
    expect((await send(rotated)).status).toBe(200);
    // The API token is untouched.
    expect((await h.request('GET', '/api/v1/events', { token: user.token })).status).toBe(200);
  });

  it('gives a user from before write keys its first one; its API token works meanwhile', async () => {
    const user = await h.createUser();
    await h.orm.em
      .fork()
      .getConnection()
      .execute('update users set write_key_hash = null where id = ?', [user.id]);
    expect((await send(user.writeKey)).status).toBe(401);
    expect((await send(user.token)).status).toBe(200);
    expect((await h.request('GET', `/v1/projects/${user.token}/settings`)).status).toBe(200);
    const res = await h.request('POST', '/api/v1/write-key/rotate', { token: user.token });
    expect(res.status).toBe(200);
    expect((await send(res.body.write_key)).status).toBe(200);
  });
});

describe('the user commands', () => {
  const run = promisify(execFile);
  const root = path.join(__dirname, '../..');
  const command = (script: string, email: string) =>
    run(process.execPath, ['-r', 'ts-node/register/transpile-only', script, '--email', email], {
      cwd: root,
      env: { PATH: process.env.PATH, DATABASE_URL: readTestEnv().databaseUrl },
    });

  it('users:create prints both keys; users:rotate-write-key a new write key', async () => {
    const email = `cli-${randomUUID()}@example.com`;
    const created = JSON.parse((await command('scripts/create-user.ts', email)).stdout);
    expect(created).toEqual({
      id: expect.any(String),
      email,
      token: expect.stringMatching(/^evt_/),
      write_key: expect.stringMatching(/^evw_/),
    });
    const rotated = JSON.parse((await command('scripts/rotate-write-key.ts', email)).stdout);
    expect(rotated).toEqual({
      id: created.id,
      email,
      write_key: expect.stringMatching(/^evw_/),
    });
    expect((await send(created.write_key)).status).toBe(401);
    expect((await send(rotated.write_key)).status).toBe(200);
    await expect(command('scripts/rotate-write-key.ts', `nobody-${email}`)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no user with e-mail'),
    });
  }, 60_000);
});
