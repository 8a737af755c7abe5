import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { EARLIEST_DATE, LATEST_DATE } from '../../src/events/storable-date';
import { Harness } from '../support/harness';
import {
  anyDateValue,
  anyJson,
  propertyParams,
  toText,
  type JsonModel,
} from '../support/properties';
import { basicAuth } from '../support/tracking';

/**
 * Properties of the tracking API for any JSON an SDK (or anything posing as one) puts in a
 * message: every message of a request is kept, processed or stored `failed` with a reason,
 * and the request is answered 200, or 400 when the batch envelope itself is unusable (nothing
 * is stored then). Never a 5xx, which an SDK would retry, with the same message, forever.
 */
let h: Harness;
const lines: string[] = [];

beforeAll(async () => {
  h = await Harness.start({
    noWorker: true,
    env: { LOG_LEVEL: 'warn' },
    logDestination: { write: (line) => void lines.push(line) },
  });
});
afterAll(() => h.close());

afterEach(() => {
  // 50 is pino's error level: an outage or a defect, never the client's input.
  const errors = lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
  expect(errors).toEqual([]);
});

/** Each property takes seconds on an idle machine; the bound leaves room for a loaded one. */
const PROPERTY_TIMEOUT_MS = 180_000;

/** Every field the spec names, and some it does not. */
const FIELDS = [
  'type',
  'event',
  'name',
  'messageId',
  'userId',
  'anonymousId',
  'groupId',
  'previousId',
  'timestamp',
  'originalTimestamp',
  'sentAt',
  'receivedAt',
  'properties',
  'traits',
  'context',
  'integrations',
  'writeKey',
  '_metadata',
] as const;

/** A valid track message as JSON text, with `field` set to `value` (or added, or removed). */
function messageText(field: string | null, value: JsonModel | undefined): string {
  const base: Record<string, string> = {
    type: '"track"',
    event: '"Property Tested"',
    messageId: JSON.stringify(randomUUID()),
    anonymousId: '"a-1"',
    properties: '{"n":1}',
    context: '{"library":{"name":"properties"}}',
    timestamp: JSON.stringify(new Date().toISOString()),
  };
  if (field !== null) {
    if (value === undefined) delete base[field];
    else base[field] = toText(value);
  }
  return `{${Object.entries(base)
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(',')}}`;
}

/** What is stored for the user: events, failed ones with a reason, readable one by one. */
async function stored(user: { id: string; token: string }) {
  const rows = await h.orm.em
    .fork()
    .getConnection()
    .execute<
      {
        id: string;
        status: string;
        processing_error: string | null;
        /** Seconds since 1970, as PostgreSQL holds them. */
        event_time: number;
        client_timestamp: number | null;
        sent_at: number | null;
      }[]
    >(
      `select id, status, processing_error, extract(epoch from event_time)::float8 as event_time,
              extract(epoch from client_timestamp)::float8 as client_timestamp,
              extract(epoch from sent_at)::float8 as sent_at
         from events where user_id = ?`,
      [user.id],
    );
  for (const row of rows) {
    const got = await h.request('GET', `/api/v1/events/${row.id}`, { token: user.token });
    expect(got.status).toBe(200);
  }
  return rows;
}

async function post(path: string, body: string, user: { token: string }) {
  const res = await fetch(`${h.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basicAuth(user.token) },
    body,
  });
  return { status: res.status, body: (await res.json()) as any };
}

const inRange = (seconds: number | null) =>
  seconds === null ||
  (seconds * 1000 >= EARLIEST_DATE.getTime() && seconds * 1000 <= LATEST_DATE.getTime());

describe('any JSON value in any field of a message', () => {
  it(
    'a batch answers 200 and keeps every message: accepted, or stored failed with why',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...FIELDS),
          fc.option(anyJson(3), { nil: undefined, freq: 8 }),
          async (field, value) => {
            const user = await h.createUser();
            const fuzzed = messageText(field, value);
            const res = await post(
              '/v1/batch',
              `{"batch":[${fuzzed},${messageText(null, undefined)}]}`,
              user,
            );
            expect({ fuzzed, status: res.status }).toEqual({ fuzzed, status: 200 });
            const rows = await stored(user);
            expect(rows).toHaveLength(2);
            for (const row of rows) {
              if (row.status === 'failed')
                expect(row.processing_error).toMatch(/^validation_error: /);
              else expect(row.status).toMatch(/^(received|queued)$/);
            }
          },
        ),
        propertyParams(120),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'a single call answers 200 and keeps the message',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('/v1/track', '/v1/identify', '/v1/page', '/v1/group', '/v1/alias'),
          fc.constantFrom(...FIELDS),
          anyJson(3),
          async (path, field, value) => {
            const user = await h.createUser();
            const fuzzed = messageText(field, value);
            const res = await post(path, fuzzed, user);
            expect({ fuzzed, status: res.status }).toEqual({ fuzzed, status: 200 });
            expect(await stored(user)).toHaveLength(1);
          },
        ),
        propertyParams(60),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

describe('any string or number in a date field', () => {
  it(
    'keeps the message, with dates only in years 0001 to 9999; an unusable batch sentAt is 400',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('timestamp', 'originalTimestamp', 'sentAt', 'batch sentAt'),
          anyDateValue,
          async (field, value) => {
            const user = await h.createUser();
            const envelope = field === 'batch sentAt';
            const body = envelope
              ? `{"sentAt":${toText(value)},"batch":[${messageText(null, undefined)}]}`
              : `{"batch":[${messageText(field, value)}]}`;
            const res = await post('/v1/batch', body, user);
            const rows = await stored(user);
            if (envelope && res.status === 400) {
              expect(res.body.error.code).toBe('invalid_request');
              expect(res.body.error.message).toMatch(/sentAt/);
              expect(rows).toEqual([]);
              return;
            }
            expect({ body, status: res.status }).toEqual({ body, status: 200 });
            expect(rows).toHaveLength(1);
            const row = rows[0]!;
            expect({
              row,
              inRange: [row.event_time, row.client_timestamp, row.sent_at].every(inRange),
            }).toEqual({ row, inRange: true });
          },
        ),
        propertyParams(120),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
