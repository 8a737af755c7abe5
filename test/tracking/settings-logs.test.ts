import { Writable } from 'node:stream';
import { Client as PgClient } from 'pg';
import pino from 'pino';
import { createTestDatabase, ownDatabaseName } from '../setup/databases';
import { Harness } from '../support/harness';

/**
 * The settings path carries a key (`/v1/projects/:writeKey/settings`), and a failing request
 * is logged twice: the access line and the error line. Neither may hold the key. On a database
 * of its own, since the test breaks it.
 */
const lines: string[] = [];
const destination = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  },
});

let databaseUrl: string;
let h: Harness;

beforeAll(async () => {
  databaseUrl = await createTestDatabase(ownDatabaseName('settings_logs'));
  h = await Harness.start({
    databaseUrl,
    noWorker: true,
    logger: pino({ level: 'info' }, destination),
  });
}, 60_000);
afterAll(() => h?.close());

it('no log line of a failing settings request holds its key', async () => {
  const alice = await h.createUser();
  const unknown = `evw_${'Q'.repeat(43)}`;
  const foreign = 'a-segment-write-key-of-another-service';
  expect((await h.request('GET', `/v1/projects/${unknown}/settings`)).status).toBe(404);
  expect((await h.request('GET', `/v1/projects/${foreign}/settings`)).status).toBe(404);
  expect((await h.request('POST', `/v1/projects/${alice.writeKey}/settings`)).status).toBe(405);

  // The lookup itself fails: the error is logged with the request's path.
  const failed: { status: number; body: string }[] = [];
  const db = new PgClient({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query('alter table "users" rename to "users_elsewhere"');
    for (const key of [alice.token, alice.writeKey]) {
      const res = await h.request('GET', `/v1/projects/${key}/settings`);
      failed.push({ status: res.status, body: JSON.stringify(res.body) });
    }
  } finally {
    await db.query('alter table "users_elsewhere" rename to "users"');
    await db.end();
  }

  for (const key of [alice.token, unknown, foreign, alice.writeKey]) {
    for (const line of lines) expect(line).not.toContain(key);
  }
  const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level >= 50);
  expect(errors.map((l) => l.path)).toEqual([
    '/v1/projects/[redacted]/settings',
    '/v1/projects/[redacted]/settings',
  ]);
  const access = lines.map((l) => JSON.parse(l)).filter((l) => l.component === 'access');
  expect(access.map((l) => l.status)).toEqual([404, 404, 405, 500, 500]);
  expect(failed.map((f) => f.status)).toEqual([500, 500]);
  expect(failed.some((f) => f.body.includes(alice.token) || f.body.includes(alice.writeKey))).toBe(
    false,
  );
});
