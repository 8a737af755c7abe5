import fc from 'fast-check';
import { normalizeValue } from '../../activities/payload-normalization';
import { nestingDepth, validatePayloadShape } from '../../activities/payload-rules';
import { findUnstorable } from '../../src/http/storable-json';
import { ExactInteger, parseExactly, stringifyExactly } from '../../src/json/exact-json';
import {
  expectedValue,
  payloadModel,
  propertyParams,
  toText,
  canonical,
} from '../support/properties';

/** Every key path of a value, `__proto__` included, in a canonical order. */
function keyPaths(v: unknown, at = '$'): string[] {
  if (v === null || typeof v !== 'object' || v instanceof ExactInteger) return [];
  const own = Array.isArray(v)
    ? v.map((c, i) => [String(i), c] as const)
    : Object.entries(v).map(([k, c]) => [JSON.stringify(k), c] as const);
  return own.flatMap(([k, c]) => [`${at}/${k}`, ...keyPaths(c, `${at}/${k}`)]).sort();
}

describe('exact JSON, for any payload within the rules', () => {
  it('parses what was sent: every key, integers past 2^53 as their digits', () => {
    fc.assert(
      fc.property(payloadModel, (m) => {
        const parsed = parseExactly(toText(m));
        expect(canonical(parsed)).toEqual(canonical(expectedValue(m)));
        expect(keyPaths(parsed)).toEqual(keyPaths(expectedValue(m)));
      }),
      propertyParams(300),
    );
  });

  it('writes back text that parses to the same value', () => {
    fc.assert(
      fc.property(payloadModel, (m) => {
        const parsed = parseExactly(toText(m));
        expect(canonical(parseExactly(stringifyExactly(parsed)))).toEqual(canonical(parsed));
      }),
      propertyParams(300),
    );
  });

  it('is storable and passes the payload rules', () => {
    fc.assert(
      fc.property(payloadModel, (m) => {
        const parsed = parseExactly(toText(m));
        expect(findUnstorable(parsed, 64)).toBeNull();
        expect(() => validatePayloadShape(parsed)).not.toThrow();
        expect(nestingDepth(parsed)).toBeLessThanOrEqual(10);
      }),
      propertyParams(300),
    );
  });
});

describe('normalization, for any payload within the rules', () => {
  it('is idempotent: normalizing twice changes nothing', () => {
    fc.assert(
      fc.property(payloadModel, (m) => {
        const once = normalizeValue(parseExactly(toText(m)));
        expect(normalizeValue(once)).toEqual(once);
      }),
      propertyParams(300),
    );
  });

  it('loses and adds no key, and keeps key order', () => {
    fc.assert(
      fc.property(payloadModel, (m) => {
        const parsed = parseExactly(toText(m));
        const normalized = normalizeValue(parsed);
        expect(keyPaths(normalized)).toEqual(keyPaths(parsed));
        expect(Object.keys(normalized as object)).toEqual(Object.keys(parsed as object));
      }),
      propertyParams(300),
    );
  });
});
