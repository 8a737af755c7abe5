import {
  ExactInteger,
  parseExactly,
  stringifyExactly,
  withJsonFields,
} from '../../src/json/exact-json';

describe('exact JSON scan', () => {
  it('keeps integers past 2^53 and leaves digits inside strings alone', () => {
    const text =
      '{"a\\\\":12345678901234567890,"s":"1234567890123456789 \\" 98765432109876543210",' +
      '"b":[-98765432109876543210,1.2345678901234567e30,12345678901234567e2,9007199254740991],' +
      '"q":"\\\\","c":9007199254740993}';
    const parsed = parseExactly(text) as Record<string, unknown>;
    expect(parsed['a\\']).toEqual(new ExactInteger('12345678901234567890'));
    expect(parsed.s).toBe('1234567890123456789 " 98765432109876543210');
    expect(parsed.b).toEqual([
      new ExactInteger('-98765432109876543210'),
      1.2345678901234567e30,
      12345678901234567e2,
      9007199254740991,
    ]);
    expect(parsed.c).toEqual(new ExactInteger('9007199254740993'));
    expect(stringifyExactly(parsed)).toContain('"c":9007199254740993');
  });

  it('parses a body without long digit runs as JSON.parse does', () => {
    const text = '{"x":[1,-2,3.5,4e10],"y":"a\\"b"}';
    expect(parseExactly(text)).toEqual(JSON.parse(text));
  });
});

describe('withJsonFields', () => {
  it('appends JSON text as it is, after the fields of the value', () => {
    const text = withJsonFields(
      { id: 'e1', n: null },
      { payload: '{"big":12345678901234567890}', none: null },
    );
    expect(text).toBe('{"id":"e1","n":null,"payload":{"big":12345678901234567890},"none":null}');
    expect(parseExactly(text)).toEqual({
      id: 'e1',
      n: null,
      payload: { big: new ExactInteger('12345678901234567890') },
      none: null,
    });
  });

  it('writes a valid object when the value has no fields, and quotes the names', () => {
    expect(withJsonFields({}, { 'a"b': '[1]' })).toBe('{"a\\"b":[1]}');
    expect(JSON.parse(withJsonFields({}, {}))).toEqual({});
  });
});
