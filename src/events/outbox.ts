import { AsyncResource } from 'node:async_hooks';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Orm } from '../db/orm';
import { createSql } from '../db/sql';
import type { Logger } from '../logger';
import { markQueued } from './event-transitions';
import { createEventWorkflowStarter, type EventWorkflowStarter } from '../temporal/event-workflows';
import { batchWorkflowId } from '../temporal/workflow-ids';

/** A committed event, or batch, whose workflow is to be started. */
export type OutboxItem = (
  | { kind: 'event'; id: string; userId: string; eventName: string; eventType: string }
  | { kind: 'batch'; id: string; userId: string }
) & {
  /**
   * Runs the start in the async context of the request that offered the item, so the start
   * carries that request's id and trace even though it happens after the answer.
   */
  inOrigin?: <T>(fn: () => T) => T;
};

/** What the API knows of the rows waiting in PostgreSQL, as of the last pass. */
export interface BacklogStats {
  /** Events stored but whose workflow has not started (`received`). */
  unstarted: number;
  /** Age of the oldest of them, in seconds; 0 when there are none. */
  oldestAgeSec: number;
  /**
   * Age of the oldest event not yet finished (`received`, `queued` or `processing`), in
   * seconds; 0 when there are none. Growing without bound, it names an event with no way out.
   */
  oldestUnfinishedAgeSec: number;
  /** Workflows running on the task queue, single events and batches, as admission counts them. */
  inFlight: number;
  /** Workflows this process started per second, smoothed over the last passes. */
  startRate: number;
}

export interface OutboxOptions {
  orm: Orm;
  workflows: Pick<EventWorkflowStarter, 'startEvent' | 'startBatch' | 'countRunning'>;
  logger: Logger;
  /** How often to sweep for rows no process is starting; 0 leaves sweeping to other processes. */
  intervalMs: number;
  /** How long a row may stay `received` before the sweep takes it over. */
  graceMs: number;
  /** Most rows one sweep claims. */
  batchSize: number;
  /** Workflows, single-event and batch, Temporal may hold running at once. */
  maxInFlight: number;
  /** Starts under way at once in this process. */
  startConcurrency: number;
  /** Told each start that failed, for metrics. */
  onStartFailed?: (item: OutboxItem) => void;
}

export interface Outbox {
  /** Hands a committed row to the starter; never waits and never throws. */
  offer(item: OutboxItem): void;
  /** The backlog as of the last pass. */
  stats(): BacklogStats;
  /** Stops taking work and waits for the pass under way. */
  stop(): Promise<void>;
}

/** How often admission asks Temporal how many workflows run on the task queue. */
export const RUNNING_COUNT_REFRESH_MS = 1000;
/**
 * How long a start may take to show in Temporal's count (its visibility store is eventually
 * consistent: up to a few hundred milliseconds on a busy dev server). Starts made this long
 * before a count was asked are added to it, so a lagging count never lets admission overshoot.
 */
export const VISIBILITY_LAG_MS = 1000;

interface ClaimedRow {
  id: string;
  user_id: string;
  event_name: string;
  event_type: string;
  batch_id: string | null;
  workflow_id: string;
}

/**
 * Starts the workflows of committed events, off the request path. Every accepted event is first
 * a `received` row: PostgreSQL is the durable queue. The API offers each row right after its
 * commit and this loop starts it within milliseconds; rows no process is starting (Temporal was
 * down, a process died between commit and start, admission held them back) are swept up after
 * `graceMs`, oldest first. A started workflow's rows become `queued` in one statement per pass.
 *
 * Admission: at most `maxInFlight` workflows (single events and batches alike) run in Temporal
 * at once, so a burst waits in PostgreSQL rather than in the engine, and each run's budget
 * starts when it can actually be worked on. A workflow counts until its run closes, however it
 * closes. The figure is Temporal's own count of running workflows on the task queue, asked
 * every `RUNNING_COUNT_REFRESH_MS` off the pass, plus the starts this process made since (and
 * `VISIBILITY_LAG_MS` before): one cheap call a second whatever the backlog, where counting
 * rows would read every row of every running batch, and would go on counting rows whose run
 * was terminated. Several API processes each add only their own recent starts, so together
 * they may overshoot by what the others started within the last count's lag.
 *
 * Starting twice is harmless (the workflow id is the event's), and a row whose start fails is
 * put back in line behind the others, so one bad row never holds up the rest.
 */
export function startOutbox(opts: OutboxOptions): Outbox {
  const { orm, workflows, logger } = opts;
  const fresh: { item: OutboxItem; at: number }[] = [];
  // Offers beyond this wait in PostgreSQL for the sweep, which keeps memory bounded.
  const maxFresh = Math.max(opts.maxInFlight, opts.batchSize) * 2;
  let stored = { unstarted: 0, oldestAgeSec: 0, oldestUnfinishedAgeSec: 0 };
  let startRate = 0;
  let statsAt = 0;
  /** Temporal's last count of running workflows, and when it was asked. */
  let counted = { running: 0, askedAt: 0 };
  /** The count under way, which `stop()` waits for: its connection closes after. */
  let counting: Promise<void> | undefined;
  let lastAsked = 0;
  let countFailing = false;
  /** When this process made each start not yet surely in `counted`, oldest first. */
  const recentStarts: number[] = [];
  let lastSweep = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  let failing = false;

  const db = () => orm.em.getConnection();
  const sql = createSql(orm);

  async function refreshStats(): Promise<void> {
    const [row] = await db().execute<
      {
        unstarted: number;
        oldest_age_sec: number | null;
        oldest_unfinished_age_sec: number | null;
      }[]
    >(
      `select (select count(*)::int from events where status = 'received') as unstarted,
              (select extract(epoch from now() - min(created_at))::float8
                 from events where status = 'received') as oldest_age_sec,
              (select extract(epoch from now() - min(created_at))::float8
                 from events where status in ('received', 'queued', 'processing'))
                as oldest_unfinished_age_sec`,
    );
    stored = {
      unstarted: row!.unstarted,
      oldestAgeSec: Math.max(0, row!.oldest_age_sec ?? 0),
      oldestUnfinishedAgeSec: Math.max(0, row!.oldest_unfinished_age_sec ?? 0),
    };
    statsAt = Date.now();
  }

  /** Asks Temporal for a new count, off the pass, unless one is under way or fresh. */
  function refreshRunningCount(now: number): void {
    if (stopped || counting || now - lastAsked < RUNNING_COUNT_REFRESH_MS) return;
    lastAsked = now;
    const askedAt = now;
    counting = workflows
      .countRunning()
      .then(
        (running) => {
          counted = { running, askedAt };
          if (countFailing) logger.info('counting running workflows succeeds again');
          countFailing = false;
        },
        (err: unknown) => {
          // The last count and the starts since stand meanwhile: admission stays conservative.
          if (!countFailing) logger.warn({ err }, 'counting running workflows failed; retrying');
          countFailing = true;
        },
      )
      .finally(() => (counting = undefined));
  }

  /** Workflows running as admission counts them: Temporal's count and the starts since. */
  function inFlight(): number {
    const countedFrom = counted.askedAt - VISIBILITY_LAG_MS;
    while (recentStarts.length > 0 && recentStarts[0]! < countedFrom) recentStarts.shift();
    return counted.running + recentStarts.length;
  }

  const stats = (): BacklogStats => ({ ...stored, inFlight: inFlight(), startRate });

  /** Claims rows nobody started within the grace period, oldest first, for `graceMs`. */
  async function claimStale(limit: number): Promise<OutboxItem[]> {
    const rows = await db().execute<ClaimedRow[]>(
      `update events e set updated_at = now()
         from (select id from events
                where status = 'received' and workflow_id is not null
                  and updated_at < now() - ? * interval '1 millisecond'
                order by created_at limit ? for update skip locked) stale
        where e.id = stale.id
        returning e.id, e.user_id, e.event_name, e.event_type, e.batch_id, e.workflow_id`,
      [opts.graceMs, limit],
    );
    const items: OutboxItem[] = [];
    const batches = new Set<string>();
    for (const r of rows) {
      // A batch's event follows its batch's workflow, unless it was reprocessed on its own.
      if (r.batch_id && r.workflow_id === batchWorkflowId(r.batch_id)) {
        if (!batches.has(r.batch_id))
          items.push({ kind: 'batch', id: r.batch_id, userId: r.user_id });
        batches.add(r.batch_id);
      } else {
        items.push({
          kind: 'event',
          id: r.id,
          userId: r.user_id,
          eventName: r.event_name,
          eventType: r.event_type,
        });
      }
    }
    return items;
  }

  /** Starts the items, `startConcurrency` at a time; returns those Temporal now holds. */
  async function startAll(items: OutboxItem[]): Promise<OutboxItem[]> {
    const started: OutboxItem[] = [];
    let next = 0;
    const runner = async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const start = () =>
          item.kind === 'event' ? workflows.startEvent(item) : workflows.startBatch(item);
        try {
          // A start Temporal refused as a duplicate found the run running: counted already.
          if (await (item.inOrigin ? item.inOrigin(start) : start())) recentStarts.push(Date.now());
          started.push(item);
        } catch (err) {
          opts.onStartFailed?.(item);
          if (!failing)
            logger.warn({ err, [`${item.kind}_id`]: item.id }, 'workflow start failed; will retry');
          failing = true;
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(opts.startConcurrency, items.length) }, runner),
    );
    return started;
  }

  async function markStartedQueued(started: OutboxItem[]): Promise<void> {
    // Guarded: a fast worker may have moved the rows on already.
    await markQueued(sql, {
      eventIds: started.filter((i) => i.kind === 'event').map((i) => i.id),
      batchIds: started.filter((i) => i.kind === 'batch').map((i) => i.id),
    });
  }

  /** One round: what admission allows, fresh offers first, then rows left behind. */
  async function pass(): Promise<boolean> {
    const now = Date.now();
    if (now - statsAt >= 50) await refreshStats();
    refreshRunningCount(now);
    // Nothing is admitted before Temporal's first count: a process starting beside a full engine
    // (a restart, another API process) must not add a second `maxInFlight`.
    let capacity = counted.askedAt === 0 ? 0 : opts.maxInFlight - inFlight();
    const items: OutboxItem[] = [];
    while (fresh.length > 0 && items.length < opts.batchSize) {
      const { at } = fresh[0]!;
      // Left too long behind admission: the sweep takes it, in arrival order. Without a sweep
      // (OUTBOX_INTERVAL_MS=0) it stays here: dropped, it would never start.
      if (opts.intervalMs > 0 && now - at > opts.graceMs / 2) {
        fresh.shift();
        continue;
      }
      if (capacity <= 0) break;
      capacity--;
      items.push(fresh.shift()!.item);
    }
    const sweepDue = opts.intervalMs > 0 && now - lastSweep >= opts.intervalMs;
    if (sweepDue && capacity > 0 && items.length < opts.batchSize) {
      lastSweep = now;
      items.push(...(await claimStale(Math.min(capacity, opts.batchSize - items.length))));
    }
    if (items.length === 0) return false;
    const t0 = Date.now();
    const started = await startAll(items);
    await markStartedQueued(started);
    if (started.length > 0 && failing) {
      logger.info('workflow starts succeed again');
      failing = false;
    }
    const perSec = (started.length * 1000) / Math.max(1, Date.now() - t0);
    startRate = startRate * 0.8 + perSec * 0.2;
    // Nothing went through: wait for the next sweep rather than spin against an outage.
    return started.length > 0;
  }

  const loop = (async () => {
    while (!stopped) {
      let progressed = false;
      try {
        progressed = await pass();
      } catch (err) {
        if (!failing) logger.warn({ err }, 'outbox pass failed; retrying');
        failing = true;
      }
      if (stopped) break;
      if (progressed && fresh.length > 0) continue;
      // Sleep until an offer arrives or the next sweep or stats refresh is due.
      const idleMs = opts.intervalMs > 0 ? opts.intervalMs : 1000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, fresh.length > 0 ? Math.min(idleMs, 50) : idleMs);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  })();

  return {
    offer(item) {
      if (stopped) return;
      if (fresh.length < maxFresh) {
        fresh.push({
          item: { ...item, inOrigin: AsyncResource.bind(runIn) as typeof runIn },
          at: Date.now(),
        });
      }
      wake?.();
    },
    stats,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await counting;
    },
  };
}

function runIn<T>(fn: () => T): T {
  return fn();
}

/** The outbox as the API process runs it, configured by OUTBOX_*. */
export function startConfiguredOutbox(deps: {
  config: Config;
  orm: Orm;
  temporal: Client;
  logger: Logger;
  onStartFailed?: (item: OutboxItem) => void;
}): Outbox {
  const { config, orm, temporal, logger, onStartFailed } = deps;
  return startOutbox({
    orm,
    logger,
    workflows: createEventWorkflowStarter(temporal, config),
    onStartFailed,
    ...config.outbox,
  });
}
