import type { Config } from '../config';
import type { Orm } from '../db/orm';
import { createSql, type Sql } from '../db/sql';
import { uuidv7 } from '../db/uuid';
import type { Logger } from '../logger';
import { batchWorkflowId } from '../temporal/workflow-ids';
import type { Outbox } from './outbox';
import { createWakeableSleep } from '../concurrency/wakeable-sleep';

/** How the relay groups a user's tracking messages into batches. */
export interface GroupingPolicy {
  /** Messages one group holds at most. */
  maxMessages: number;
  /** How long the oldest waiting message of a user waits for more before its group forms. */
  windowMs: number;
}

export interface MessageGrouperOptions extends GroupingPolicy {
  sql: Sql;
  /** Starts each group's batch workflow. */
  outbox: Pick<Outbox, 'offer'>;
  logger: Logger;
  /**
   * How often to look in PostgreSQL for waiting messages no offer told of (another process's,
   * or left by a crash between commit and grouping); 0 leaves that to other processes.
   */
  sweepIntervalMs: number;
}

export interface MessageGrouper {
  /** Tells the grouper that `count` messages of the user were committed and wait for a group. */
  offer(userId: string, count: number): void;
  /** Stops grouping and waits for the round under way. */
  stop(): Promise<void>;
}

/** What the grouper knows of a user's waiting messages from offers. */
interface Waiting {
  /** When the oldest of them was offered. */
  since: number;
  count: number;
}

/** After a round that failed (PostgreSQL down), the next waits this long. */
const RETRY_AFTER_FAILURE_MS = 1000;

/**
 * The relay's first half for tracking messages: they are committed one request at a time and
 * wait in PostgreSQL (`received`, no workflow yet); the grouper puts each user's waiting
 * messages into groups of at most `maxMessages`, once that many wait or the oldest has waited
 * `windowMs`, and hands each group to the outbox as a batch, so that a thousand single-message
 * requests cost a few batch workflows rather than a thousand workflows.
 *
 * - Every message belongs to exactly one group: forming a group is one statement that claims
 *   the user's ungrouped rows (`for update skip locked`, so processes never share one) and points
 *   them at the new batch.
 * - A crash between a request's commit and its grouping leaves the rows ungrouped; the sweep
 *   finds them. A crash between grouping and the workflow start leaves a batch of `received`
 *   rows, which the outbox's own sweep starts.
 * - Fairness: each round forms at most one group per user with messages due, oldest first, so
 *   one user's flood costs another user at most one group's statement of waiting.
 */
export function startMessageGrouper(opts: MessageGrouperOptions): MessageGrouper {
  const { sql, outbox, logger, maxMessages, windowMs } = opts;
  const waiting = new Map<string, Waiting>();
  let lastSweep = Date.now();
  let stopped = false;
  let failing = false;
  const pause = createWakeableSleep();

  /**
   * Forms one group of the user's waiting messages; returns what it left behind: how many (at
   * most `maxMessages` counted) and when the oldest of them arrived.
   */
  async function formGroup(userId: string): Promise<{ left: number; sinceMs: number }> {
    const batchId = uuidv7();
    const workflowId = batchWorkflowId(batchId);
    // `rest` reads the statement's snapshot, in which the picked rows are still ungrouped.
    const [formed] = await sql<{ n: number; remaining: number; since_ms: number | null }>(
      `with picked as (
         select id, received_at from events
          where user_id = $1 and workflow_id is null and status = 'received'
          order by id limit $2 for update skip locked),
       batch as (
         insert into batches (id, user_id, workflow_id, event_count, sent_at, received_at, created_at)
         select $3, $1, $4, count(*), null, min(received_at), now() from picked
         having count(*) > 0
         returning id),
       grouped as (
         update events e set batch_id = batch.id, workflow_id = $4, updated_at = now()
           from picked, batch where e.id = picked.id
         returning 1),
       rest as (
         select created_at from events
          where user_id = $1 and workflow_id is null and status = 'received'
            and id not in (select id from picked)
          order by id limit $2)
       select (select count(*)::int from grouped) as n, count(*)::int as remaining,
              (extract(epoch from min(created_at)) * 1000)::float8 as since_ms
         from rest`,
      [userId, maxMessages, batchId, workflowId],
    );
    const n = formed?.n ?? 0;
    if (n > 0) outbox.offer({ kind: 'batch', id: batchId, userId });
    return { left: formed?.remaining ?? 0, sinceMs: formed?.since_ms ?? Date.now() };
  }

  /** Users whose waiting messages are older than the window, by what PostgreSQL holds. */
  async function sweep(): Promise<void> {
    const rows = await sql<{ user_id: string; since_ms: number }>(
      `select user_id, (extract(epoch from min(created_at)) * 1000)::float8 as since_ms
         from events where workflow_id is null and status = 'received'
        group by user_id`,
    );
    for (const r of rows) {
      const known = waiting.get(r.user_id);
      const since = Math.min(known?.since ?? Infinity, r.since_ms);
      waiting.set(r.user_id, { since, count: Math.max(known?.count ?? 0, 1) });
    }
  }

  const isDue = (w: Waiting, now: number) => w.count >= maxMessages || now - w.since >= windowMs;

  /** One round: a group for each user with messages due, oldest first. */
  async function round(): Promise<void> {
    const now = Date.now();
    if (opts.sweepIntervalMs > 0 && now - lastSweep >= opts.sweepIntervalMs) {
      lastSweep = now;
      await sweep();
    }
    const due = [...waiting]
      .filter(([, w]) => isDue(w, now))
      .sort(([, a], [, b]) => a.since - b.since);
    for (const [userId, w] of due) {
      if (stopped) return;
      // Offers that arrive while the group forms start a new entry: they may or may not be in
      // this group, and a later group of nothing costs one cheap statement.
      waiting.delete(userId);
      let rest: { left: number; sinceMs: number };
      try {
        rest = await formGroup(userId);
      } catch (err) {
        const current = waiting.get(userId);
        waiting.set(userId, {
          since: Math.min(w.since, current?.since ?? Infinity),
          count: w.count + (current?.count ?? 0),
        });
        throw err;
      }
      // What the group left behind is due as any waiting messages are: at once if it fills a
      // group, else once its own oldest has waited the window (not the window of those just
      // grouped). Offers that came meanwhile may or may not be among it: they count only when
      // they alone say more.
      if (rest.left > 0) {
        const current = waiting.get(userId);
        waiting.set(userId, {
          since: Math.min(rest.sinceMs, current?.since ?? Infinity),
          count: Math.max(rest.left, current?.count ?? 0),
        });
      }
    }
  }

  /** Milliseconds until the next user's messages are due, or the next sweep. */
  function idleMs(): number {
    const now = Date.now();
    let next = opts.sweepIntervalMs > 0 ? lastSweep + opts.sweepIntervalMs : now + 1000;
    for (const w of waiting.values())
      next = Math.min(next, isDue(w, now) ? now : w.since + windowMs);
    return Math.max(0, next - now);
  }

  const loop = (async () => {
    while (!stopped) {
      let pauseMs: number;
      try {
        await round();
        if (failing) logger.info('grouping tracking messages succeeds again');
        failing = false;
        pauseMs = idleMs();
      } catch (err) {
        if (!failing) logger.warn({ err }, 'grouping tracking messages failed; retrying');
        failing = true;
        pauseMs = RETRY_AFTER_FAILURE_MS;
      }
      if (stopped) break;
      if (pauseMs === 0) continue;
      await pause.sleep(pauseMs);
    }
  })();

  return {
    offer(userId, count) {
      if (stopped || count <= 0) return;
      const w = waiting.get(userId);
      if (w) w.count += count;
      else waiting.set(userId, { since: Date.now(), count });
      const now = Date.now();
      const entry = waiting.get(userId)!;
      // A new user's window starts a timer of its own; a full group is due at once.
      if (!failing && (!w || isDue(entry, now))) pause.wake();
    },
    async stop() {
      stopped = true;
      pause.wake();
      await loop;
    },
  };
}

/** The grouper as the API process runs it, configured by TRACKING_GROUP_* and OUTBOX_INTERVAL_MS. */
export function startConfiguredGrouper(deps: {
  config: Config;
  orm: Orm;
  outbox: Pick<Outbox, 'offer'>;
  logger: Logger;
}): MessageGrouper {
  const { config, orm, outbox, logger } = deps;
  return startMessageGrouper({
    sql: createSql(orm),
    outbox,
    logger,
    ...config.grouping,
    sweepIntervalMs: config.outbox.intervalMs,
  });
}
