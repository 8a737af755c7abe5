import { BoundedLabel, OTHER_LABEL } from '../../src/metrics/bounded-label';

describe('BoundedLabel', () => {
  it('keeps the first values up to the cap and folds every later one into "other"', () => {
    const label = new BoundedLabel(2);
    expect(label.valueOf('a')).toBe('a');
    expect(label.valueOf('b')).toBe('b');
    expect(label.valueOf('c')).toBe(OTHER_LABEL);
    expect(label.valueOf('a')).toBe('a');
    expect(label.valueOf('b')).toBe('b');
    expect(label.valueOf('c')).toBe(OTHER_LABEL);
  });

  it('reports at most cap + 1 distinct values however many come', () => {
    const label = new BoundedLabel(10);
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(label.valueOf(`type-${i % 5000}`));
    expect(seen.size).toBe(11);
  });

  it('does not spend a place on a client sending "other" itself', () => {
    const label = new BoundedLabel(1);
    expect(label.valueOf(OTHER_LABEL)).toBe(OTHER_LABEL);
    expect(label.valueOf('a')).toBe('a');
  });
});
