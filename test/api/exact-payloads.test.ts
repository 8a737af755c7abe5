import { Harness } from '../support/harness';

/**
 * Payloads are kept exactly as sent, whatever their keys and numbers: keys that name
 * JavaScript's object machinery, numbers with exponents, integers past 2^53.
 */
let h: Harness;
let alice: { id: string; token: string };

beforeAll(async () => {
  h = await Harness.start();
  alice = await h.createUser();
});
afterAll(() => h.close());

/** POSTs a raw body, waits for processing, and returns the raw text of GET's answer. */
async function roundTrip(payloadText: string): Promise<{ event: any; text: string }> {
  const res = await h.request('POST', '/api/v1/events', {
    token: alice.token,
    body: `{"event_name":"exact","event_type":"test","payload":${payloadText}}`,
  });
  expect(res.status).toBe(202);
  const event = await h.waitForEvent(alice.token, res.body.event_id);
  const got = await fetch(`${h.baseUrl}/api/v1/events/${res.body.event_id}`, {
    headers: { authorization: `Bearer ${alice.token}` },
  });
  expect(got.headers.get('content-type')).toMatch(/^application\/json/);
  return { event, text: await got.text() };
}

it('keeps a key named constructor whose value is an object', async () => {
  const { event } = await roundTrip('{"constructor":{"prototype":{"x":1}},"a":{"constructor":{}}}');
  expect(event.status).toBe('processed');
  expect(event.payload).toEqual({ constructor: { prototype: { x: 1 } }, a: { constructor: {} } });
  expect(event.properties.original).toEqual(event.payload);
  expect(event.properties.normalized).toEqual(event.payload);
});

it('keeps a key named __proto__, at the top and deeper', async () => {
  const { text } = await roundTrip('{"__proto__":{"x":" y "},"b":{"__proto__":[1]}}');
  // jsonb orders keys its own way (shorter first), so key order is not compared.
  const { payload, properties } = JSON.parse(text);
  expect(Object.keys(payload).sort()).toEqual(['__proto__', 'b']);
  expect(Object.getPrototypeOf(payload)).toBe(Object.prototype);
  expect(payload.__proto__).toEqual({ x: ' y ' });
  expect(JSON.stringify(payload.b)).toBe('{"__proto__":[1]}');
  expect(properties.original).toEqual(payload);
  expect(properties.normalized.__proto__).toEqual({ x: 'y' });
  expect(Object.keys(properties.normalized).sort()).toEqual(['__proto__', 'b']);
});

it('accepts finite numbers written with an exponent', async () => {
  const { event } = await roundTrip('{"big":1e308,"avogadro":6.02e23,"small":-1.5E-300}');
  expect(event.status).toBe('processed');
  expect(event.payload).toEqual({ big: 1e308, avogadro: 6.02e23, small: -1.5e-300 });
});

it('keeps the digits of integers JSON.parse would round', async () => {
  const digits = '123456789012345678901234567890';
  const { event, text } = await roundTrip(
    `{"id":${digits},"neg":-9007199254740993,"list":[18446744073709551615,1]}`,
  );
  expect(event.status).toBe('processed');
  const payloadText = text.slice(text.indexOf('"payload":'));
  expect(payloadText).toContain(`"id": ${digits}`);
  expect(payloadText).toContain('"neg": -9007199254740993');
  expect(payloadText).toContain('[18446744073709551615, 1]');
});
