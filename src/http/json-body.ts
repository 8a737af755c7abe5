import type { Middleware } from 'koa';
import { InvalidJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors';
import { parseExactly } from '../json/exact-json';

/**
 * Reads a JSON body of at most `limit` bytes into `ctx.request.body`. Stops reading as soon as
 * the limit is passed, whatever Content-Length claimed, so an oversized body costs no memory.
 */
export function jsonBody(limit: number): Middleware {
  return async (ctx, next) => {
    if (!ctx.is('application/json')) {
      throw new UnsupportedMediaTypeError(
        `Content-Type must be application/json, got ${ctx.get('content-type') || 'none'}`,
      );
    }
    const declared = Number(ctx.get('content-length'));
    if (declared > limit) throw tooLarge(limit);
    const text = await readText(ctx.req, limit);
    if (text.trim() === '')
      throw new InvalidJsonError('Request body is empty; expected a JSON object');
    try {
      // Exactly: integers past 2^53 keep their digits (see exact-json.ts).
      ctx.request.body = parseExactly(text);
    } catch (err) {
      throw new InvalidJsonError(`Request body is not valid JSON: ${(err as Error).message}`);
    }
    await next();
  };
}

const tooLarge = (limit: number) =>
  new PayloadTooLargeError(`Request body exceeds the limit of ${limit} bytes`, {
    limit_bytes: limit,
  });

function readText(stream: NodeJS.ReadableStream, limit: number): Promise<string> {
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
      // fatal: invalid UTF-8 is a client error, not something to store with replacement marks.
      try {
        resolve(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)));
      } catch {
        reject(new InvalidJsonError('Request body is not valid UTF-8'));
      }
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
