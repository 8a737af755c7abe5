import { AsyncResource } from 'node:async_hooks';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Orm } from '../db/orm';
import { createSql } from '../db/sql';
import type { Logger } from '../logger';
import { readBacklog, type StoredBacklog } from './backlog';
import { markQueued } from './event-transitions';
import { createRunningCount } from './running-count';
import { createEventWorkflowStarter, type EventWorkflowStarter } from '../temporal/event-workflows';
import { batchWorkflowId } from '../temporal/workflow-ids';
import { createWakeableSleep } from '../concurrency/wakeable-sleep';

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
export interface BacklogStats extends StoredBacklog {
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

/** How stale the backlog figures (`/ready`, `/metrics`, admission's 503) may be. */
const STATS_REFRESH_MS = 50;
/** With offers waiting but no capacity, how soon to look again for capacity. */
const CAPACITY_RECHECK_MS = 50;
/** How long an idle loop sleeps, woken early by an offer, when no sweep interval sets it. */
const IDLE_SLEEP_MS = 1000;
/** Weight of the last pass in the start rate admission quotes in its `Retry-After`. */
const START_RATE_WEIGHT = 0.2;

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
 * closes: `running-count.ts` says how it is counted.
 *
 * Starting twice is harmless (the workflow id is the event's), and a row whose start fails is
 * put back in line behind the others, so one bad row never holds up the rest.
 */
export function startOutbox(opts: OutboxOptions): Outbox {
  const { orm, workflows, logger } = opts;
  const fresh: { item: OutboxItem; at: number }[] = [];
  // Offers beyond this wait in PostgreSQL for the sweep, which keeps memory bounded.
  const maxFresh = Math.max(opts.maxInFlight, opts.batchSize) * 2;
  let stored: StoredBacklog = { unstarted: 0, oldestAgeSec: 0, oldestUnfinishedAgeSec: 0 };
  let startRate = 0;
  let statsAt = 0;
  let lastSweep = 0;
  let stopped = false;
  const pause = createWakeableSleep();
  let failing = false;

  const running = createRunningCount(workflows, logger);
  const db = () => orm.em.getConnection();
  const sql = createSql(orm);

  async function refreshStats(): Promise<void> {
    stored = await readBacklog(sql);
    statsAt = Date.now();
  }

  const stats = (): BacklogStats => ({ ...stored, inFlight: running.current(), startRate });

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
          if (await (item.inOrigin ? item.inOrigin(start) : start())) running.started(Date.now());
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
    if (now - statsAt >= STATS_REFRESH_MS) await refreshStats();
    running.refresh(now);
    // Nothing is admitted before Temporal's first count: a process starting beside a full engine
    // (a restart, another API process) must not add a second `maxInFlight`.
    let capacity = running.known ? opts.maxInFlight - running.current() : 0;
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
    startRate = startRate * (1 - START_RATE_WEIGHT) + perSec * START_RATE_WEIGHT;
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
      const idleMs = opts.intervalMs > 0 ? opts.intervalMs : IDLE_SLEEP_MS;
      await pause.sleep(fresh.length > 0 ? Math.min(idleMs, CAPACITY_RECHECK_MS) : idleMs);
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
      pause.wake();
    },
    stats,
    async stop() {
      stopped = true;
      pause.wake();
      const counted = running.stop();
      await loop;
      await counted;
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
