import { randomUUID } from 'node:crypto';
import { uuidv7 } from '../../src/db/uuid';
import { generateToken, hashToken } from '../../src/users/tokens';
import { UserSchema } from '../../src/users/user.entity';
import { rotateWriteKey } from '../../src/users/user.service';
import { Harness } from '../support/harness';
import { basicAuth } from '../support/tracking';

/**
 * An API process remembers the user a key names for KEY_CACHE_TTL_MS: a key replaced elsewhere
 * (another API process, the users:rotate-write-key command) stops working within that time, and
 * a key the database did not know a moment ago works as soon as it does.
 */
const TTL_MS = 1000;
let h: Harness;

beforeAll(async () => {
  h = await Harness.start({ env: { KEY_CACHE_TTL_MS: String(TTL_MS) } });
});
afterAll(() => h.close());

const track = (writeKey: string) =>
  fetch(`${h.baseUrl}/v1/track`, {
    method: 'POST',
    headers: { authorization: basicAuth(writeKey), 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'Viewed', anonymousId: 'a', messageId: randomUUID() }),
  }).then((res) => res.status);

it('a write key replaced by another process stops working within the cache time', async () => {
  const user = await h.createUser();
  expect(await track(user.writeKey)).toBe(200);
  // As users:rotate-write-key or another API process would: straight in the database.
  const rotated = await rotateWriteKey(h.orm.em.fork(), { id: user.id });
  const replacedAt = Date.now();
  expect(await track(rotated!.write_key)).toBe(200);
  let status = await track(user.writeKey);
  while (status === 200 && Date.now() - replacedAt < 5 * TTL_MS) {
    await new Promise((r) => setTimeout(r, 50));
    status = await track(user.writeKey);
  }
  expect(status).toBe(401);
  // Within the cache time and a request's worth, not at the first lookup after some long delay.
  expect(Date.now() - replacedAt).toBeLessThan(TTL_MS + 1000);
});

it('remembers only keys it found: a key refused a moment ago works once it exists', async () => {
  const token = generateToken();
  expect((await h.request('GET', '/api/v1/events', { token })).status).toBe(401);
  await h.orm.em.fork().insert(UserSchema, {
    id: uuidv7(),
    email: `late-${randomUUID()}@example.com`,
    tokenHash: hashToken(token),
    createdAt: new Date(),
  });
  expect((await h.request('GET', '/api/v1/events', { token })).status).toBe(200);
});

it('a write key replaced through the API stops working at once on the process that replaced it', async () => {
  const user = await h.createUser();
  expect(await track(user.writeKey)).toBe(200);
  const res = await h.request('POST', '/api/v1/write-key/rotate', { token: user.token });
  expect(res.status).toBe(200);
  expect(await track(user.writeKey)).toBe(401);
});
