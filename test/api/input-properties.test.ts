import fc from 'fast-check';
import { EARLIEST_DATE, LATEST_DATE } from '../../src/events/storable-date';
import { Harness } from '../support/harness';
import {
  anyDateValue,
  anyUrlText,
  propertyParams,
  toText,
  type JsonModel,
} from '../support/properties';

/**
 * Properties of the REST API for any value where a value is named, not only a payload: any
 * string or number in every date field, any string in every query parameter and path id. Each
 * is answered 2xx or with a 4xx saying what is wrong, never 5xx, and what is stored is what
 * PostgreSQL holds; no request is logged as an error of the service.
 */
/** Each property takes seconds on an idle machine; the bound leaves room for a loaded one. */
const PROPERTY_TIMEOUT_MS = 180_000;

let h: Harness;
let alice: { id: string; token: string };
const lines: string[] = [];

beforeAll(async () => {
  h = await Harness.start({
    noWorker: true,
    env: { LOG_LEVEL: 'warn' },
    logDestination: { write: (line) => void lines.push(line) },
  });
  alice = await h.createUser();
});
afterAll(() => h.close());

afterEach(() => {
  // 50 is pino's error level: an outage or a defect, never the client's input.
  const errors = lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
  expect(errors).toEqual([]);
});

const inRange = (iso: string | null) =>
  iso === null ||
  (Date.parse(iso) >= EARLIEST_DATE.getTime() && Date.parse(iso) <= LATEST_DATE.getTime());

async function get(path: string): Promise<{ status: number; body: any }> {
  return h.request('GET', path, { token: alice.token });
}

/** Fails naming the request unless its status is one of `statuses`. */
function expectStatusIn(statuses: number[], request: string, status: number): void {
  expect({ request, status, expected: statuses.includes(status) }).toEqual({
    request,
    status,
    expected: true,
  });
}

describe('any string or number in a date field', () => {
  const field = fc.option(anyDateValue, { nil: undefined });

  it(
    'answers 202 or 422 naming the field, and stores only dates in years 0001 to 9999',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({ timestamp: field, sent_at: field, batchSentAt: field }),
          fc.boolean(),
          async (dates, asBatch) => {
            const json = (m: JsonModel | undefined, name: string) =>
              m === undefined ? '' : `,"${name}":${toText(m)}`;
            const event = `{"event_name":"p","event_type":"date"${json(dates.timestamp, 'timestamp')}`;
            const res = asBatch
              ? await h.request('POST', '/api/v1/events/batch', {
                  token: alice.token,
                  body: `{"events":[${event}}]${json(dates.batchSentAt, 'sent_at')}}`,
                })
              : await h.request('POST', '/api/v1/events', {
                  token: alice.token,
                  body: `${event}${json(dates.sent_at, 'sent_at')}}`,
                });
            expectStatusIn([202, 422], JSON.stringify(dates), res.status);
            if (res.status === 422) {
              expect(res.body.error.code).toBe('validation_error');
              expect(res.body.error.message).toMatch(/\$(\.events\.0)?\.(timestamp|sent_at)/);
              return;
            }
            const id = asBatch ? res.body.event_ids[0] : res.body.event_id;
            const got = await get(`/api/v1/events/${id}`);
            expect(got.status).toBe(200);
            for (const key of ['timestamp', 'sent_at', 'event_time', 'received_at'])
              expect({ key, value: got.body[key], inRange: inRange(got.body[key]) }).toEqual({
                key,
                value: got.body[key],
                inRange: true,
              });
          },
        ),
        propertyParams(150),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'accepts an instant exactly when it lies in years 0001 to 9999, and keeps it exactly',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }),
          async (d) => {
            const res = await h.request('POST', '/api/v1/events', {
              token: alice.token,
              body: { event_name: 'p', event_type: 'date', timestamp: d.toISOString() },
            });
            const holdable = d >= EARLIEST_DATE && d <= LATEST_DATE;
            expect({ date: d.toISOString(), status: res.status }).toEqual({
              date: d.toISOString(),
              status: holdable ? 202 : 422,
            });
            if (!holdable) return;
            const got = await get(`/api/v1/events/${res.body.event_id}`);
            expect(got.body.timestamp).toBe(d.toISOString());
            expect(got.body.event_time).toBe(d.toISOString());
          },
        ),
        propertyParams(100),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

const TEXT_FILTERS = ['event_name', 'event_type', 'subject_user_id', 'anonymous_id'];
const PARAMETERS = [...TEXT_FILTERS, 'status', 'limit', 'cursor'];

describe('any string in a query parameter of the listing', () => {
  it(
    'answers 200 or 422 naming the parameter; a NUL is refused, not sent to PostgreSQL',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.tuple(fc.constantFrom(...PARAMETERS), anyUrlText), {
            minLength: 1,
            maxLength: 3,
            selector: ([p]) => p,
          }),
          async (params) => {
            const query = params.map(([p, v]) => `${p}=${v}`).join('&');
            const res = await get(`/api/v1/events?${query}`);
            expectStatusIn([200, 422], query, res.status);
            const decoded = new URLSearchParams(query);
            const nul = TEXT_FILTERS.some((p) =>
              decoded.getAll(p).some((v) => v.includes('\u0000')),
            );
            if (nul) expect(res.status).toBe(422);
            if (res.status === 422) {
              expect(res.body.error.code).toBe('validation_error');
              // A raw `&` in a value starts a parameter of its own: named at `$` as unknown.
              const named = res.body.error.details.map((d: { path: string }) => d.path.slice(2));
              expect(['', ...PARAMETERS]).toEqual(expect.arrayContaining(named));
            } else {
              expect(Array.isArray(res.body.events)).toBe(true);
            }
          },
        ),
        propertyParams(200),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

describe('any string as an id in a path', () => {
  it(
    'answers 404 (400 for a URL that cannot be decoded), never 5xx, on every route',
    async () => {
      const routes: ((id: string) => [string, string])[] = [
        (id) => ['GET', `/api/v1/events/${id}`],
        (id) => ['POST', `/api/v1/events/${id}/reprocess`],
        (id) => ['GET', `/api/v1/batches/${id}`],
        (id) => ['GET', `/v1/projects/${id}/settings`],
      ];
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...routes),
          fc.oneof(anyUrlText, fc.uuid()),
          async (route, id) => {
            const [method, path] = route(id);
            const res = await h.request(method, path, { token: alice.token });
            // An empty id leaves `/api/v1/events/`: the listing, 200.
            expectStatusIn(id === '' ? [200, 404] : [400, 404], `${method} ${path}`, res.status);
            if (res.status !== 200)
              expect(res.body.error.code).toMatch(/^(not_found|bad_request)$/);
          },
        ),
        propertyParams(200),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
