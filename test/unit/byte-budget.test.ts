import { ByteBudget } from '../../src/concurrency/byte-budget';

/** A task that holds its bytes until released, recording when it started. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ByteBudget', () => {
  it('never lets more than its limit run at once, and serves waiters in order', async () => {
    const budget = new ByteBudget(100);
    const started: string[] = [];
    const gates = { a: gate(), b: gate(), c: gate() };
    const run = (name: keyof typeof gates, bytes: number) =>
      budget.run(bytes, async () => {
        started.push(name);
        await gates[name].opened;
      });
    const a = run('a', 60);
    const b = run('b', 60);
    const c = run('c', 10);
    await tick();
    // c would fit beside a, but b came first: no overtaking.
    expect(started).toEqual(['a']);
    gates.a.open();
    await a;
    await tick();
    expect(started).toEqual(['a', 'b', 'c']);
    gates.b.open();
    gates.c.open();
    await Promise.all([b, c]);
  });

  it('lets a chunk larger than the whole budget run alone rather than wait forever', async () => {
    const budget = new ByteBudget(100);
    const g = gate();
    const started: number[] = [];
    const big = budget.run(500, async () => {
      started.push(500);
      await g.opened;
    });
    const small = budget.run(1, async () => {
      started.push(1);
    });
    await tick();
    expect(started).toEqual([500]);
    g.open();
    await Promise.all([big, small]);
    expect(started).toEqual([500, 1]);
  });

  it('gives the bytes back when the work throws', async () => {
    const budget = new ByteBudget(10);
    await expect(
      budget.run(10, () => Promise.reject(new Error('Connection terminated unexpectedly'))),
    ).rejects.toThrow('Connection terminated');
    await expect(budget.run(10, () => Promise.resolve('ran'))).resolves.toBe('ran');
  });
});
