import { ByteBudget } from '../../src/concurrency/byte-budget';
import { BUDGETED_BODY_BYTES, bodyBound, readWithinBudget } from '../../src/http/body-budget';

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

  it('lets a hold give back what it turned out not to need, waking those who now fit', async () => {
    const budget = new ByteBudget(100);
    const hold = await budget.hold(100);
    let granted = false;
    const waiting = budget.hold(70).then((h) => {
      granted = true;
      return h;
    });
    await tick();
    expect(granted).toBe(false);
    hold.shrinkTo(30);
    expect(hold.bytes).toBe(30);
    const second = await waiting;
    expect(granted).toBe(true);
    // Shrinking never grows a hold; releasing twice gives back once.
    hold.shrinkTo(50);
    expect(hold.bytes).toBe(30);
    hold.release();
    hold.release();
    second.release();
    await expect(budget.run(100, () => Promise.resolve('all back'))).resolves.toBe('all back');
  });
});

describe('readWithinBudget', () => {
  const big = BUDGETED_BODY_BYTES * 4;
  const budget = () => new ByteBudget(big);

  /** A request whose body is `{}` and whose handling lasts until `done`; records its read. */
  const request = (
    b: ByteBudget,
    reads: string[],
    name: string,
    bound: number,
    done: Promise<void>,
  ) =>
    readWithinBudget(
      b,
      bound,
      async () => {
        reads.push(name);
        return Buffer.from('{}');
      },
      (bytes) => JSON.parse(bytes.toString()),
      () => done,
    );

  it('takes the bytes before reading: a request waiting for them has read nothing', async () => {
    const b = budget();
    const reads: string[] = [];
    const blocker = await b.hold(big);
    const waiting = request(b, reads, 'waiting', big, Promise.resolve());
    await tick();
    expect(reads).toEqual([]);
    blocker.release();
    await waiting;
    expect(reads).toEqual(['waiting']);
  });

  it('keeps only what the body turned out to be once read', async () => {
    const b = budget();
    const reads: string[] = [];
    const handling = gate();
    // Bound by the whole budget (a compressed body), but two bytes once read.
    const first = request(b, reads, 'first', big, handling.opened);
    await tick();
    const second = request(b, reads, 'second', big - 2, Promise.resolve());
    await second;
    expect(reads).toEqual(['first', 'second']);
    handling.open();
    await first;
  });

  it('lets a body too small to matter through without waiting', async () => {
    const b = budget();
    const blocker = await b.hold(big);
    let read = false;
    await readWithinBudget(
      b,
      BUDGETED_BODY_BYTES - 1,
      async () => {
        read = true;
        return Buffer.from('1');
      },
      Number,
      async () => undefined,
    );
    expect(read).toBe(true);
    blocker.release();
  });

  it('bounds a body by its Content-Length when plain, by the limit when compressed or chunked', () => {
    expect(bodyBound(1000, '10', false)).toBe(10);
    expect(bodyBound(1000, '5000', false)).toBe(1000);
    expect(bodyBound(1000, '10', true)).toBe(1000);
    expect(bodyBound(1000, '', false)).toBe(1000);
    expect(bodyBound(1000, 'nope', false)).toBe(1000);
  });
});
