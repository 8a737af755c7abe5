import {
  MAX_PAYLOAD_BYTES,
  nestingDepth,
  PayloadValidationError,
  validatePayloadShape,
  validateRequiredFields,
} from '../../activities/payload-rules';

/** Nests `levels` objects: nested(1) is {"k": "leaf"}, nested(2) is {"k": {"k": "leaf"}}. */
function nested(levels: number): Record<string, unknown> {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = { k: v };
  return v as Record<string, unknown>;
}

describe('validatePayloadShape (the seed scenarios)', () => {
  it('passes a valid payload through unchanged', () => {
    const p = { page: '/home', duration: 45 };
    expect(validatePayloadShape(p)).toBe(p);
  });

  it('turns a null or missing payload into {}', () => {
    expect(validatePayloadShape(null)).toEqual({});
    expect(validatePayloadShape(undefined)).toEqual({});
  });

  it.each([
    ['a string', 'string_payload', 'Payload must be an object, got string'],
    ['a number', 42, 'Payload must be an object, got number'],
    ['an array', [1, 2], 'Payload must be an object, got array'],
    ['a boolean', true, 'Payload must be an object, got boolean'],
  ])('rejects %s', (_what, payload, message) => {
    expect(() => validatePayloadShape(payload)).toThrow(new PayloadValidationError(message));
  });

  it('accepts exactly 1 MB serialized and rejects one byte more', () => {
    const overhead = JSON.stringify({ s: '' }).length;
    const atLimit = { s: 'x'.repeat(MAX_PAYLOAD_BYTES - overhead) };
    expect(Buffer.byteLength(JSON.stringify(atLimit))).toBe(MAX_PAYLOAD_BYTES);
    expect(validatePayloadShape(atLimit)).toBe(atLimit);
    const over = { s: 'x'.repeat(MAX_PAYLOAD_BYTES - overhead + 1) };
    expect(() => validatePayloadShape(over)).toThrow('Payload exceeds 1MB size limit');
  });

  it('counts size in UTF-8 bytes, not characters', () => {
    const overhead = JSON.stringify({ s: '' }).length;
    // 'é' is 2 bytes: half as many characters as the limit already breaks it.
    const p = { s: 'é'.repeat((MAX_PAYLOAD_BYTES - overhead) / 2 + 1) };
    expect(() => validatePayloadShape(p)).toThrow('Payload exceeds 1MB size limit');
  });

  it('accepts 10 levels of nesting and rejects 11', () => {
    expect(nestingDepth(nested(10))).toBe(10);
    expect(validatePayloadShape(nested(10))).toEqual(nested(10));
    expect(() => validatePayloadShape(nested(11))).toThrow(
      'Payload exceeds max nesting depth (10)',
    );
  });

  it('counts arrays as nesting levels too', () => {
    expect(nestingDepth({ a: [[{ b: [] }]] })).toBe(5);
    expect(nestingDepth({})).toBe(1);
  });

  it('measures depth without recursion, so a hostile depth cannot overflow the stack', () => {
    expect(nestingDepth(nested(200_000))).toBe(200_000);
  });
});

describe('validateRequiredFields', () => {
  it('accepts both fields present', () => {
    expect(() =>
      validateRequiredFields({ eventName: 'page_view', eventType: 'engagement' }),
    ).not.toThrow();
  });

  it('names every missing field', () => {
    expect(() => validateRequiredFields({ eventName: '', eventType: '  ' })).toThrow(
      'Missing required fields: event_name, event_type',
    );
    expect(() => validateRequiredFields({ eventName: 'x', eventType: '' })).toThrow(
      'Missing required fields: event_type',
    );
  });
});
