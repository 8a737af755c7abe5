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
