import type { Sql } from '../db/sql';

/** What PostgreSQL holds of the events not yet processed or failed. */
export interface StoredBacklog {
  /** Events stored but whose workflow has not started (`received`). */
  unstarted: number;
  /** Age of the oldest of them, in seconds; 0 when there are none. */
  oldestAgeSec: number;
  /**
   * Age of the oldest event not yet finished (`received`, `queued` or `processing`), in
   * seconds; 0 when there are none. Growing without bound, it names an event with no way out.
   */
  oldestUnfinishedAgeSec: number;
}

/** Reads the backlog in one statement, through the partial indexes of unfinished events. */
export async function readBacklog(sql: Sql): Promise<StoredBacklog> {
  const [row] = await sql<{
    unstarted: number;
    oldest_age_sec: number | null;
    oldest_unfinished_age_sec: number | null;
  }>(
    `select (select count(*)::int from events where status = 'received') as unstarted,
            (select extract(epoch from now() - min(created_at))::float8
               from events where status = 'received') as oldest_age_sec,
            (select extract(epoch from now() - min(created_at))::float8
               from events where status in ('received', 'queued', 'processing'))
              as oldest_unfinished_age_sec`,
  );
  return {
    unstarted: row!.unstarted,
    oldestAgeSec: Math.max(0, row!.oldest_age_sec ?? 0),
    oldestUnfinishedAgeSec: Math.max(0, row!.oldest_unfinished_age_sec ?? 0),
  };
}
