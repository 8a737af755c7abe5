import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { findUnstorable } from '../../src/http/storable-json';
import { parseExactly } from '../../src/json/exact-json';

describe('findUnstorable', () => {
  it('names the path of the first bad value, key or level', () => {
    expect(findUnstorable({ a: [1, { b: 'x\u0000' }] }, 64)).toEqual({
      path: '$.a[1].b',
      reason: expect.stringMatching(/NUL/),
    });
    expect(findUnstorable({ a: { '\udc00': 1 } }, 64)).toEqual({
      path: '$.a.\udc00',
      reason: expect.stringMatching(/^key .*surrogate/),
    });
    expect(findUnstorable({ a: [[[1]]] }, 3)).toEqual({
      path: '$.a[0][0]',
      reason: 'nesting deeper than 3 levels',
    });
    expect(findUnstorable({ a: [[1]] }, 3)).toBeNull();
    expect(findUnstorable('\ud800', 3)).toEqual({ path: '$', reason: expect.any(String) });
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
