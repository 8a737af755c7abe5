import { Pool } from 'undici';
import { nowMs } from './stats';

/** One request of a load run. */
export interface RequestRecord {
  index: number;
  /** When it was sent, epoch ms (comparable with PostgreSQL's timestamps on this machine). */
  sentAtMs: number;
  latencyMs: number;
  status: number;
  body: string;
}

export interface LoadResult {
  records: RequestRecord[];
  /** From the first request sent to the last answer received. */
  elapsedMs: number;
}

export interface LoadOptions {
  origin: string;
  /** Clients, each with its own keep-alive connection, sending one request after another. */
  concurrency: number;
  count: number;
  token: string;
  /** Path and JSON body of request `i`. */
  request(i: number): { path: string; body: string };
  /** Called after each answer with the number answered so far. */
  onAnswer?(answered: number): void;
}

/**
 * A closed-loop load generator, as autocannon runs one: `concurrency` clients each send a request
 * as soon as their previous one was answered, until `count` requests are sent. Bodies are built
 * before the clock starts so that JSON encoding in the bench does not count against the service.
 */
export async function runClosedLoop(opts: LoadOptions): Promise<LoadResult> {
  const bodies = Array.from({ length: opts.count }, (_, i) => opts.request(i));
  const pool = new Pool(opts.origin, {
    connections: opts.concurrency,
    pipelining: 1,
    keepAliveTimeout: 60_000,
  });
  const headers = {
    authorization: `Bearer ${opts.token}`,
    'content-type': 'application/json',
  };
  const records: RequestRecord[] = new Array<RequestRecord>(opts.count);
  let next = 0;
  let answered = 0;
  const client = async (): Promise<void> => {
    for (let i = next++; i < opts.count; i = next++) {
      const { path, body } = bodies[i]!;
      const sentAtMs = nowMs();
      const started = performance.now();
      const res = await pool.request({ method: 'POST', path, headers, body });
      const text = await res.body.text();
      records[i] = {
        index: i,
        sentAtMs,
        latencyMs: performance.now() - started,
        status: res.statusCode,
        body: text,
      };
      opts.onAnswer?.(++answered);
    }
  };
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.count) }, client));
  } finally {
    await pool.close();
  }
  return { records, elapsedMs: performance.now() - started };
}
