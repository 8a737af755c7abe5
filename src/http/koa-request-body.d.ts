import 'koa';

declare module 'koa' {
  interface Request {
    /** The parsed JSON body, set by `jsonBody`; validate it with zod before use. */
    body?: unknown;
  }
}
