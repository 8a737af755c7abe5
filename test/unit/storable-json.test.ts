import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { escapeUnstorable, findUnstorable } from '../../src/http/storable-json';
import { parseExactly } from '../../src/json/exact-json';

describe('findUnstorable', () => {
  it('names the path of the first bad value, key or level', () => {
    expect(findUnstorable({ a: [1, { b: 'x\u0000' }] }, 64)).toEqual({
      path: '$.a[1].b',
      reason: expect.stringMatching(/NUL/),
    });
    expect(findUnstorable({ a: { '\udc00': 1 } }, 64)).toEqual({
      path: '$.a["\\udc00"]',
      reason: expect.stringMatching(/^key .*surrogate/),
    });
    expect(findUnstorable({ a: [[[1]]] }, 3)).toEqual({
      path: '$.a[0][0]',
      reason: 'nesting deeper than 3 levels',
    });
    expect(findUnstorable({ a: [[1]] }, 3)).toBeNull();
    expect(findUnstorable('\ud800', 3)).toEqual({ path: '$', reason: expect.any(String) });
  });

  it('writes a refused key escaped in the path, so the path itself is storable', () => {
    const nul = findUnstorable({ properties: { ok: { '\u0000': 1 } } }, 64)!;
    expect(nul.path).toBe('$.properties.ok["\\u0000"]');
    expect(findUnstorable(nul.path, 1)).toBeNull();
    // A long key is cut in the path; a cut through a surrogate pair is escaped too.
    const long = findUnstorable({ ['a' + '\ud83d\ude00'.repeat(40) + '\u0000']: 1 }, 64)!;
    expect(long.path).toBe(`$["a${'\ud83d\ude00'.repeat(31)}\\ud83d…"]`);
    expect(findUnstorable(long.path, 1)).toBeNull();
    expect(findUnstorable({ 'a b': 'x\u0000' }, 64)!.path).toBe('$["a b"]');
  });

  it('escapes what PostgreSQL refuses in text the service writes', () => {
    expect(escapeUnstorable('a\u0000b\ud800c\udc00\ud83d\ude00')).toBe(
      'a\\u0000b\\ud800c\\udc00\ud83d\ude00',
    );
    expect(findUnstorable(escapeUnstorable('\u0000\udfff\ud800'), 1)).toBeNull();
  });

  it('accepts integers past 2^53 and numbers with exponents, refuses infinite ones', () => {
    expect(findUnstorable(parseExactly('{"a":123456789012345678901234567890,"b":1e308}'), 64)).toBe(
      null,
    );
    expect(findUnstorable(parseExactly('{"a":[1e400]}'), 64)).toEqual({
      path: '$.a[0]',
      reason: 'is a number out of range',
    });
  });

  // Measured in a child process with --expose-gc; before the walk kept only the path it held a
  // frame and a path string per element: about 200 MB for each of these bodies.
  it('checks a 2 MB flat array and a 16 MB batch within 4 MB of heap', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--expose-gc',
        '-r',
        'ts-node/register/transpile-only',
        path.join(__dirname, '../support/storable-json-heap.ts'),
      ],
      { cwd: path.join(__dirname, '../..'), encoding: 'utf8' },
    );
    const growth = JSON.parse(out) as { flat: number; batch: number };
    expect(growth.flat).toBeLessThan(4 * 1024 * 1024);
    expect(growth.batch).toBeLessThan(4 * 1024 * 1024);
  });
});
