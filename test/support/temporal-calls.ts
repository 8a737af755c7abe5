import type { Client } from '@temporalio/client';

type Method = (...args: unknown[]) => unknown;

/**
 * Counts the calls a client makes to Temporal's WorkflowService, by method, from now until
 * `restore()`: what a request or a pass costs Temporal, seen from the client that makes them.
 */
export function countTemporalCalls(client: Client) {
  const service = client.workflowService as unknown as Record<string, Method>;
  const calls: Record<string, number> = {};
  const originals = Object.entries(service).filter(([, fn]) => typeof fn === 'function');
  for (const [name, fn] of originals) {
    service[name] = (...args: unknown[]) => {
      calls[name] = (calls[name] ?? 0) + 1;
      return fn(...args);
    };
  }
  return {
    calls,
    /** Calls made so far, but for the methods named (the outbox's own counts and starts). */
    excluding: (...methods: string[]) =>
      Object.entries(calls)
        .filter(([name]) => !methods.includes(name))
        .reduce((n, [, c]) => n + c, 0),
    reset: () => {
      for (const name of Object.keys(calls)) delete calls[name];
    },
    restore: () => {
      for (const [name, fn] of originals) service[name] = fn;
    },
  };
}
