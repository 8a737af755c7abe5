import type { Middleware } from 'koa';
import type { ByteBudget } from '../concurrency/byte-budget';
import { InvalidJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors';
import { parseExactly } from '../json/exact-json';
import { bodyBound, readWithinBudget } from './body-budget';

/**
 * Reads a JSON body of at most `limit` bytes into `ctx.request.body`. Stops reading as soon as
 * the limit is passed, whatever Content-Length claimed, so an oversized body costs no memory.
 * A large body is read, parsed and handled while holding its bytes from `budget`, taken before
 * it is read (see body-budget.ts).
 */
export function jsonBody(limit: number, budget?: ByteBudget): Middleware {
  return async (ctx, next) => {
    if (!ctx.is('application/json')) {
      throw new UnsupportedMediaTypeError(
        `Content-Type must be application/json, got ${ctx.get('content-type') || 'none'}`,
      );
    }
    const declared = Number(ctx.get('content-length'));
    if (declared > limit) throw tooLarge(limit);
    const bound = bodyBound(limit, ctx.get('content-length'), false);
    await readWithinBudget(
      budget,
      bound,
      () => readBytes(ctx.req, limit),
      parseBody,
      async (body) => {
        ctx.request.body = body;
        await next();
      },
    );
  };
}

const tooLarge = (limit: number) =>
  new PayloadTooLargeError(`Request body exceeds the limit of ${limit} bytes`, {
    limit_bytes: limit,
  });

/**
 * The body's bytes as JSON: `parse` over its UTF-8 text. Invalid UTF-8, an empty body and
 * invalid JSON are client errors that say which.
 */
export function parseJsonBytes(
  bytes: Buffer,
  parse: (text: string) => unknown,
  expected: string,
): unknown {
  let text: string;
  try {
    // fatal: invalid UTF-8 is a client error, not something to store with replacement marks.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidJsonError('Request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new InvalidJsonError(`Request body is empty; expected ${expected}`);
  try {
    return parse(text);
  } catch (err) {
    throw new InvalidJsonError(`Request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Exactly: integers past 2^53 keep their digits (see exact-json.ts). */
const parseBody = (bytes: Buffer) => parseJsonBytes(bytes, parseExactly, 'a JSON object');

function readBytes(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Drain the rest so the client reads the 413 instead of a reset connection.
        stream.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
