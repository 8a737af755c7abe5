import { AsyncLocalStorage } from 'node:async_hooks';

/** What code running on behalf of one HTTP request may want to know about it. */
export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` with `context` visible to everything it calls, however deep (workflow starts). */
export function runInRequestContext<T>(context: RequestContext, fn: () => Promise<T>): Promise<T> {
  return storage.run(context, fn);
}

/** The id of the request being served, when there is one (not in the outbox relay). */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
