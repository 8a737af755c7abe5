import type { Sql } from '../db/sql';
import { insertEventRows, type InsertableEvent } from './event-insert';

/** How much one statement of a group carries at most. */
export interface GroupCommitLimits {
  /** Rows per statement. */
  maxRows: number;
  /** Payload bytes per statement (a single request larger than this goes alone). */
  maxBytes: number;
  /** Statements under way at once; requests arriving meanwhile join the next one. */
  concurrency: number;
}

export const DEFAULT_GROUP_COMMIT_LIMITS: GroupCommitLimits = {
  maxRows: 2000,
  maxBytes: 8 * 1024 * 1024,
  concurrency: 2,
};

/** Inserts the rows of concurrent requests together; see {@link createGroupCommit}. */
export interface GroupCommit {
  /**
   * Inserts one request's rows; resolves, once they are committed, with the ids inserted (a row
   * whose key the user already used is skipped, as `insertEventRows` does), or rejects with
   * the error of that request's own rows.
   */
  insert(rows: InsertableEvent[]): Promise<Set<string>>;
}

interface Waiting {
  rows: InsertableEvent[];
  bytes: number;
  resolve(ids: Set<string>): void;
  reject(err: unknown): void;
}

/**
 * Group commit: the rows of requests that arrive while a statement is under way go together in
 * the next one, a single `insert` (one transaction, one WAL flush) for all of them. A lone
 * request goes at once, so an idle service adds no wait; under load a statement carries what
 * arrived during the last one, so the commits per second stay few whatever the request rate.
 *
 * Each request is answered only once a statement holding its rows committed. A statement that
 * fails is tried again one request at a time, so the request whose rows caused the failure gets
 * its own error and every other request's rows are stored (or fail on their own merits).
 * Idempotency is unchanged: the keys are unique in PostgreSQL, whichever statement carries them.
 */
export function createGroupCommit(
  sql: Sql,
  limits: GroupCommitLimits = DEFAULT_GROUP_COMMIT_LIMITS,
): GroupCommit {
  const waiting: Waiting[] = [];
  let running = 0;

  /** The next statement's requests, oldest first, within the limits (at least one). */
  function takeGroup(): Waiting[] {
    const group: Waiting[] = [];
    let rows = 0;
    let bytes = 0;
    while (waiting.length > 0) {
      const next = waiting[0]!;
      const fits =
        rows + next.rows.length <= limits.maxRows && bytes + next.bytes <= limits.maxBytes;
      if (group.length > 0 && !fits) break;
      group.push(waiting.shift()!);
      rows += next.rows.length;
      bytes += next.bytes;
    }
    return group;
  }

  async function commit(group: Waiting[]): Promise<void> {
    try {
      const inserted = await insertEventRows(
        sql,
        group.length === 1 ? group[0]!.rows : group.flatMap((w) => w.rows),
      );
      for (const w of group)
        w.resolve(new Set(w.rows.filter((r) => inserted.has(r.id)).map((r) => r.id)));
    } catch (err) {
      if (group.length === 1) return group[0]!.reject(err);
      // One request's rows may be what failed: each on its own tells which.
      for (const w of group) await commit([w]);
    }
  }

  function pump(): void {
    while (running < limits.concurrency && waiting.length > 0) {
      const group = takeGroup();
      running += 1;
      void commit(group).finally(() => {
        running -= 1;
        pump();
      });
    }
  }

  return {
    insert(rows) {
      if (rows.length === 0) return Promise.resolve(new Set());
      return new Promise((resolve, reject) => {
        const bytes = rows.reduce((n, r) => n + (r.payloadJson?.length ?? 0), 0);
        waiting.push({ rows, bytes, resolve, reject });
        pump();
      });
    },
  };
}
