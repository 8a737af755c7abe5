import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ByteBudget } from '../concurrency/byte-budget';

/**
 * Bodies that cannot reach this size go through without waiting: handling them costs little,
 * and a large body ahead in line must not hold up every small request behind it.
 */
export const BUDGETED_BODY_BYTES = 64 * 1024;

/**
 * The most bytes a body can take once read, known before a byte of it is read: a plain body's
 * Content-Length (Node ends the body there), else `limit`, where reading stops. A compressed
 * body's size is unknown until it is decompressed, and a chunked one declares none, so they
 * count as large as they may become.
 */
export function bodyBound(limit: number, contentLength: string, compressed: boolean): number {
  const declared = contentLength === '' ? NaN : Number(contentLength);
  if (compressed || !Number.isSafeInteger(declared) || declared < 0) return limit;
  return Math.min(declared, limit);
}

/**
 * Reads a body with `read`, parses it and runs the rest of its request (validating, storing,
 * answering) holding the body's bytes from the API's body budget. The bytes are taken before
 * reading, as many as the body can take (`bound`, see `bodyBound`): a request waiting for its
 * turn has read nothing, so however many wait, they hold no body. Once read, the hold shrinks
 * to the body's real size, since the bound of a compressed body is the route's whole limit.
 * The price: a slow sender holds its bytes while it sends.
 */
export async function readWithinBudget(
  budget: ByteBudget | undefined,
  bound: number,
  read: () => Promise<Buffer>,
  parse: (bytes: Buffer) => unknown,
  rest: (body: unknown) => Promise<void>,
): Promise<void> {
  if (!budget || bound < BUDGETED_BODY_BYTES) return rest(parse(await read()));
  const hold = await budget.hold(bound);
  try {
    const bytes = await read();
    hold.shrinkTo(bytes.length);
    const body = parse(bytes);
    // Parsing a 16 MB body takes a few hundred milliseconds, and so does validating and storing
    // it: the event loop serves other requests (health checks among them) in between.
    await yieldToEventLoop();
    await rest(body);
  } finally {
    hold.release();
  }
}
