import { isUuid, uuidv7 } from '../../src/db/uuid';

describe('uuidv7', () => {
  it('makes ids that sort in the order they were made, within one millisecond too', () => {
    const now = Date.now();
    const ids = Array.from({ length: 5000 }, () => uuidv7(now));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps sorting after a clock that steps back', () => {
    const now = Date.now();
    const first = uuidv7(now);
    const second = uuidv7(now - 1000);
    expect(second > first).toBe(true);
  });

  it('is a version 7, variant 10 UUID whose first 48 bits are the milliseconds', () => {
    const now = Date.UTC(2030, 0, 1);
    const id = uuidv7(now + 60_000);
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now + 60_000);
  });
});
