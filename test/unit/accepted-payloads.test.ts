import { AcceptedPayloads } from '../../activities/accepted-payloads';

const entry = (bytes: number) => ({ payload: { bytes }, userId: 'u', bytes });

describe('AcceptedPayloads', () => {
  it('hands a payload over once', () => {
    const held = new AcceptedPayloads();
    held.put('run:e1', entry(10));
    expect(held.take('run:e1')).toMatchObject({ payload: { bytes: 10 }, userId: 'u' });
    expect(held.take('run:e1')).toBeUndefined();
    expect(held.take('other-run:e1')).toBeUndefined();
  });

  it('drops the oldest past its bytes or entries, and never holds one payload past the bound', () => {
    const held = new AcceptedPayloads({ maxBytes: 100, maxEntries: 3 });
    held.put('a', entry(40));
    held.put('b', entry(40));
    held.put('c', entry(40)); // 120 bytes: a goes
    expect(held.take('a')).toBeUndefined();
    expect(held.size).toBe(2);
    held.put('d', entry(1));
    held.put('e', entry(1)); // four entries: b goes
    expect(held.take('b')).toBeUndefined();
    expect([held.take('c'), held.take('d'), held.take('e')].every(Boolean)).toBe(true);
    held.put('huge', entry(101));
    expect(held.size).toBe(0);
  });

  it('counts a payload put twice under one key once', () => {
    const held = new AcceptedPayloads({ maxBytes: 100, maxEntries: 10 });
    held.put('a', entry(60));
    held.put('a', entry(60));
    held.put('b', entry(40));
    expect(held.take('a')).toBeDefined();
    expect(held.take('b')).toBeDefined();
  });
});
