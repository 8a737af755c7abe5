import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ByteBudget } from '../concurrency/byte-budget';

/**
 * Bodies under this size go through without waiting: handling them costs little, and a large
 * body ahead in line must not hold up every small request behind it.
 */
export const BUDGETED_BODY_BYTES = 64 * 1024;

/**
 * Parses a body and runs the rest of its request (validating, storing, answering) holding the
 * body's bytes from the API's body budget, for bodies of `BUDGETED_BODY_BYTES` and up. The body
 * is read before this: a slow sender holds a socket, not the budget.
 */
export async function handleBody(
  budget: ByteBudget | undefined,
  bytes: Buffer,
  parse: (bytes: Buffer) => unknown,
  rest: (body: unknown) => Promise<void>,
): Promise<void> {
  if (!budget || bytes.length < BUDGETED_BODY_BYTES) return rest(parse(bytes));
  await budget.run(bytes.length, async () => {
    const body = parse(bytes);
    // Parsing a 16 MB body takes a few hundred milliseconds, and so does validating and storing
    // it: the event loop serves other requests (health checks among them) in between.
    await yieldToEventLoop();
    await rest(body);
  });
}
