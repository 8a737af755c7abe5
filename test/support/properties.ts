import fc from 'fast-check';
import { ExactInteger } from '../../src/json/exact-json';

/**
 * Settings every property test shares: a fixed seed, so a failure is reproducible, and a run
 * count, both changeable with FC_SEED and FC_RUNS. A failure prints its seed and path.
 */
export function propertyParams(defaultRuns: number): fc.Parameters<unknown> {
  return {
    seed: Number(process.env.FC_SEED ?? 20261212),
    numRuns: Number(process.env.FC_RUNS ?? defaultRuns),
    endOnFailure: true,
  };
}

/**
 * A JSON value as written: numbers keep the text they were sent as, so tests can send forms
 * JavaScript would not write (exponents, big integers) and know what must come back.
 */
export type JsonModel =
  | { t: 'string'; v: string }
  | { t: 'number'; text: string }
  | { t: 'bool'; v: boolean }
  | { t: 'null' }
  | { t: 'array'; items: JsonModel[] }
  | { t: 'object'; entries: [string, JsonModel][] };

/** Strings PostgreSQL stores faithfully: any code points but NUL, no lone surrogates. */
export const storableString = (maxLength = 20) =>
  fc
    .string({ unit: 'binary', maxLength })
    .map((s) => s.replace(/\u0000/g, ''))
    .chain((s) => fc.constantFrom(s, ` ${s} `, s.normalize('NFD')));

const specialKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', ''];

export const payloadKey = fc.oneof(
  { weight: 3, arbitrary: storableString(12) },
  { weight: 1, arbitrary: fc.constantFrom(...specialKeys) },
);

/** Numbers in every form JSON allows: integers of any size, fractions, exponents. */
export const numberText: fc.Arbitrary<string> = fc.oneof(
  fc.integer().map(String),
  fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
  fc.constantFrom(
    '9007199254740993',
    '-9007199254740993',
    '18446744073709551615',
    '1e308',
    '6.02e23',
    '6.02E+23',
    '-1.5e-300',
    '5e-324',
    '1.7976931348623157e308',
    '0.1',
    '100.000',
    '-0',
    '0e0',
  ),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .filter((d) => Number.isFinite(d))
    .map((d) => JSON.stringify(d)),
  fc
    .tuple(fc.integer({ min: -999, max: 999 }), fc.nat(99), fc.integer({ min: -300, max: 300 }))
    .map(([m, f, e]) => `${m}.${f}e${e}`),
);

const leaf: fc.Arbitrary<JsonModel> = fc.oneof(
  storableString().map((v) => ({ t: 'string' as const, v })),
  numberText.map((text) => ({ t: 'number' as const, text })),
  fc.boolean().map((v) => ({ t: 'bool' as const, v })),
  fc.constant({ t: 'null' as const }),
);

/** A value nested at most `levels` objects/arrays deep (a leaf is 0 levels). */
export function jsonModel(levels: number): fc.Arbitrary<JsonModel> {
  if (levels <= 0) return leaf;
  const inner = jsonModel(levels - 1);
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    {
      weight: 1,
      arbitrary: fc.array(inner, { maxLength: 4 }).map((items) => ({ t: 'array' as const, items })),
    },
    { weight: 1, arbitrary: objectModel(inner) },
  );
}

function objectModel(inner: fc.Arbitrary<JsonModel>): fc.Arbitrary<JsonModel> {
  return fc
    .uniqueArray(fc.tuple(payloadKey, inner), { maxLength: 5, selector: ([k]) => k })
    .map((entries) => ({ t: 'object' as const, entries }));
}

/**
 * A payload within the rules: an object nesting at most 10 levels (itself level 1), now and
 * then a large one (hundreds of KB, under the 1 MB rule).
 */
export const payloadModel: fc.Arbitrary<JsonModel> = fc.oneof(
  { weight: 30, arbitrary: objectModel(jsonModel(9)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 100_000, max: 900_000 }), storableString(4))
      .map(([n, s]) => ({
        t: 'object' as const,
        entries: [
          ['big', { t: 'string' as const, v: `${s}${'é'.repeat(n / 2)}` }],
          ['n', { t: 'number' as const, text: '123456789012345678901234567890' }],
        ] as [string, JsonModel][],
      })),
  },
);

/** The JSON text of a model, numbers as written. */
export function toText(m: JsonModel): string {
  switch (m.t) {
    case 'string':
      return JSON.stringify(m.v);
    case 'number':
      return m.text;
    case 'bool':
      return String(m.v);
    case 'null':
      return 'null';
    case 'array':
      return `[${m.items.map(toText).join(',')}]`;
    case 'object':
      return `{${m.entries.map(([k, v]) => `${JSON.stringify(k)}:${toText(v)}`).join(',')}}`;
  }
}

/**
 * The value a model must come back as: integer literals past 2^53 as their digits
 * (ExactInteger, as `parseExactly` gives them), other numbers as JavaScript reads them (-0 as
 * 0: jsonb has no negative zero). Keys are own properties, `__proto__` included.
 */
export function expectedValue(m: JsonModel): unknown {
  switch (m.t) {
    case 'string':
    case 'bool':
      return m.v;
    case 'null':
      return null;
    case 'number': {
      const n = Number(m.text);
      if (/^-?\d+$/.test(m.text) && !Number.isSafeInteger(n)) return new ExactInteger(m.text);
      return n === 0 ? 0 : n;
    }
    case 'array':
      return m.items.map(expectedValue);
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of m.entries) {
        Object.defineProperty(out, k, {
          value: expectedValue(v),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
  }
}

/**
 * A JSON number's value as a normalized decimal, `<sign><digits>e<exponent>` without leading
 * or trailing zeros, so that equal numbers compare equal however they were written: jsonb
 * writes 1e308 as 309 digits and has no negative zero.
 */
export function decimal(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) throw new Error(`not a JSON number: ${text}`);
  let digits = `${m[2]}${m[3] ?? ''}`.replace(/^0+/, '');
  let exp = Number(m[4] ?? 0) - (m[3]?.length ?? 0);
  if (digits === '') return '0';
  const trailing = /0*$/.exec(digits)![0].length;
  digits = digits.slice(0, digits.length - trailing);
  exp += trailing;
  return `${m[1]}${digits}e${exp}`;
}

/** A value with every number as `num:<decimal>`, ExactIntegers and doubles alike. */
export function canonical(v: unknown): unknown {
  if (v instanceof ExactInteger) return `num:${decimal(v.digits)}`;
  if (typeof v === 'number') return `num:${decimal(String(v).replace('e+', 'e'))}`;
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, child] of Object.entries(v)) {
      Object.defineProperty(out, k, {
        value: canonical(child),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return v;
}

/**
 * Any string, storable or not: NUL characters, lone surrogates (either half) and intact pairs
 * turn up often, not once in a million characters as in uniformly drawn code points.
 */
export const anyString = (maxLength = 20): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
        { weight: 1, arbitrary: fc.constantFrom('\u0000', '\ud800', '\udfff', '\ud83d\ude00') },
      ),
      { maxLength: Math.max(1, Math.ceil(maxLength / 3)) },
    )
    .map((parts) => parts.join('').slice(0, maxLength));

const anyLeaf: fc.Arbitrary<JsonModel> = fc.oneof(
  anyString().map((v) => ({ t: 'string' as const, v })),
  fc
    .oneof(numberText, fc.constantFrom('1e400', '-1e400', '1e-400', '-0.0'))
    .map((text) => ({ t: 'number' as const, text })),
  fc.boolean().map((v) => ({ t: 'bool' as const, v })),
  fc.constant({ t: 'null' as const }),
);

/**
 * Any JSON value, the ones the service must refuse included: any string as a value or a key,
 * numbers JavaScript makes infinite, now and then nesting past the 64 levels the edge allows.
 */
export function anyJson(levels = 3): fc.Arbitrary<JsonModel> {
  const deep = fc.integer({ min: 60, max: 70 }).map((n) => {
    let m: JsonModel = { t: 'number', text: '1' };
    for (let i = 0; i < n; i++)
      m = i % 2 ? { t: 'array', items: [m] } : { t: 'object', entries: [['d', m]] };
    return m;
  });
  const nested = (depth: number): fc.Arbitrary<JsonModel> => {
    if (depth <= 0) return anyLeaf;
    const inner = nested(depth - 1);
    return fc.oneof(
      { weight: 3, arbitrary: anyLeaf },
      {
        weight: 1,
        arbitrary: fc
          .array(inner, { maxLength: 3 })
          .map((items) => ({ t: 'array' as const, items })),
      },
      {
        weight: 1,
        arbitrary: fc
          .uniqueArray(fc.tuple(fc.oneof(anyString(8), payloadKey), inner), {
            maxLength: 4,
            selector: ([k]) => k,
          })
          .map((entries) => ({ t: 'object' as const, entries })),
      },
    );
  };
  return fc.oneof(
    { weight: 12, arbitrary: nested(levels) },
    { weight: 1, arbitrary: deep },
    { weight: 2, arbitrary: dateLike.map((d) => ({ t: 'string' as const, v: d })) },
  );
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * Strings that are, or nearly are, date-times: ISO 8601 across years 0000 to 9999 with and
 * without offsets and fractions, the extended years JavaScript writes (`+275760-09-13…`,
 * `-000001-…`), the ends of the range an event may hold, and what loose parsers accept.
 */
export const dateLike: fc.Arbitrary<string> = fc.oneof(
  fc
    .record({
      year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 9999)),
      month: fc.integer({ min: 0, max: 13 }),
      day: fc.integer({ min: 0, max: 32 }),
      hour: fc.integer({ min: 0, max: 24 }),
      minute: fc.integer({ min: 0, max: 60 }),
      second: fc.integer({ min: 0, max: 60 }),
      fraction: fc.oneof(fc.constant(''), fc.stringMatching(/^\.\d{1,12}$/)),
      offset: fc.oneof(
        fc.constantFrom('Z', '', 'z', '+00:00', '-00:00', '+14:00', '-12:00', '+0100'),
        fc
          .tuple(
            fc.constantFrom('+', '-'),
            fc.integer({ min: 0, max: 25 }),
            fc.integer({ min: 0, max: 59 }),
          )
          .map(([sign, h, m]) => `${sign}${pad(h, 2)}:${pad(m, 2)}`),
      ),
    })
    .map(
      (d) =>
        `${pad(d.year, 4)}-${pad(d.month, 2)}-${pad(d.day, 2)}T${pad(d.hour, 2)}:${pad(d.minute, 2)}:${pad(d.second, 2)}${d.fraction}${d.offset}`,
    ),
  fc
    .date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom(
    '0000-01-01T00:00:00Z',
    '0001-01-01T00:00:00Z',
    '0001-01-01T00:00:00+00:01',
    '9999-12-31T23:59:59.999Z',
    '9999-12-31T23:59:59.999-00:01',
    '+010000-01-01T00:00:00.000Z',
    '-000001-01-01T00:00:00.000Z',
    '+275760-09-13T00:00:00.000Z',
    '-271821-04-20T00:00:00.000Z',
    '+275760-09-13T00:00:00.001Z',
    '2025-02-30T00:00:00Z',
    '2025-12-18',
    '2025-12-18 10:30:00',
    'Dec 18 2025',
    '1',
    '-1',
    '0',
    '',
    ' ',
    'now',
  ),
);

/** Any string or number, as a date field may hold whatever a client puts there. */
export const anyDateValue: fc.Arbitrary<JsonModel> = fc.oneof(
  { weight: 4, arbitrary: dateLike.map((v) => ({ t: 'string' as const, v })) },
  { weight: 1, arbitrary: anyString().map((v) => ({ t: 'string' as const, v })) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(
        fc.integer().map(String),
        fc.constantFrom('0', '-1', '1734516000', '1734516000000', '8.64e15', '1e400'),
        fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
      )
      .map((text) => ({ t: 'number' as const, text })),
  },
);

/**
 * A query string or path segment as any client could send it: each character percent-encoded
 * as UTF-8, a lone surrogate as the bytes a careless encoder writes for it (`%ED%A0%80`, not
 * UTF-8), and now and then a raw byte (`%FF`), a bare `%` or `+`.
 */
export const anyUrlText: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: anyString(6).map(percentEncode) },
      {
        weight: 1,
        arbitrary: fc.oneof(
          fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`),
          fc.constantFrom('%', '+', '%2', '%%', '&', '='),
        ),
      },
    ),
    { maxLength: 5 },
  )
  .map((parts) => parts.join(''));

function percentEncode(s: string): string {
  let out = '';
  for (const c of s) {
    const code = c.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) {
      // Lone: the three bytes of its code point, which no valid UTF-8 holds.
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((b) => `%${b.toString(16).toUpperCase()}`)
        .join('');
    } else {
      out += encodeURIComponent(c);
    }
  }
  return out;
}
