import { buildProperties, normalizeValue } from '../../activities/payload-normalization';

describe('normalizeValue (each documented conversion)', () => {
  it('trims strings and NFC-normalizes them', () => {
    // 'e' + combining acute accent becomes the single code point 'é'.
    expect(normalizeValue('  cafe\u0301 \n')).toBe('caf\u00e9');
  });

  it('converts ISO 8601 date-times with an offset to UTC', () => {
    expect(normalizeValue('2025-12-18T12:30:00+02:00')).toBe('2025-12-18T10:30:00.000Z');
    expect(normalizeValue('2025-12-18 10:30:00.123456Z')).toBe('2025-12-18T10:30:00.123Z');
    expect(normalizeValue('2025-12-18T10:30-0130')).toBe('2025-12-18T12:00:00.000Z');
  });

  it('leaves date-times without an offset, and non-dates, alone', () => {
    expect(normalizeValue('2025-12-18T10:30:00')).toBe('2025-12-18T10:30:00');
    expect(normalizeValue('2025-12-18')).toBe('2025-12-18');
    expect(normalizeValue('007')).toBe('007');
  });

  it('turns negative zero into 0 and leaves other scalars alone', () => {
    expect(Object.is(normalizeValue(-0), 0)).toBe(true);
    expect(normalizeValue(45)).toBe(45);
    expect(normalizeValue(4.5)).toBe(4.5);
    expect(normalizeValue(true)).toBe(true);
    expect(normalizeValue(null)).toBeNull();
  });

  it('keeps keys named __proto__, constructor and prototype as own keys, in order', () => {
    const payload = JSON.parse(
      '{"a":1,"__proto__":{"x":" y "},"constructor":{"prototype":{"z":2}},"prototype":[]}',
    ) as Record<string, unknown>;
    const out = normalizeValue(payload) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['a', '__proto__', 'constructor', 'prototype']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.stringify(out)).toBe(
      '{"a":1,"__proto__":{"x":"y"},"constructor":{"prototype":{"z":2}},"prototype":[]}',
    );
  });

  it('applies at any depth and keeps keys verbatim', () => {
    expect(normalizeValue({ ' Key ': [{ at: ' 2025-01-01T00:00:00Z ' }, ' x '] })).toEqual({
      ' Key ': [{ at: '2025-01-01T00:00:00.000Z' }, 'x'],
    });
  });
});

describe('buildProperties', () => {
  const meta = { userId: 'u-1', normalizedAt: new Date('2025-12-18T10:30:00.123Z') };

  it('keeps the original verbatim beside the normalized form and metadata', () => {
    const payload = { page: ' /home ', duration: 45 };
    expect(buildProperties(payload, meta)).toEqual({
      original: { page: ' /home ', duration: 45 },
      normalized: { page: '/home', duration: 45 },
      normalized_at: '2025-12-18T10:30:00.123Z',
      user: { id: 'u-1' },
    });
  });

  it('lets no payload key overwrite metadata', () => {
    const hostile = { user: { id: 'someone-else' }, normalized_at: 'never', original: 'x' };
    const props = buildProperties(hostile, meta);
    expect(props.user).toEqual({ id: 'u-1' });
    expect(props.normalized_at).toBe('2025-12-18T10:30:00.123Z');
    expect(props.original).toEqual(hostile);
  });
});
