import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Orm } from '../db/orm';
import { createSql, type Sql } from '../db/sql';
import type { Logger } from '../logger';
import {
  createEventWorkflowStarter,
  type EventWorkflowStarter,
  type RunState,
} from '../temporal/event-workflows';
import { batchWorkflowId } from '../temporal/workflow-ids';
import { markLostRunFailed, markLostRunReceived, type LostRunScope } from './event-transitions';
import type { Outbox, OutboxItem } from './outbox';
import { createWakeableSleep } from '../concurrency/wakeable-sleep';

/** Workflows one pass asks Temporal about at most: the sweeper's Temporal calls per pass. */
export const MAX_RUNS_CHECKED_PER_PASS = 20;
/** Describe calls under way at once. */
const CHECK_CONCURRENCY = 4;
/** Rows one pass reads to find those workflows; a batch's rows share one. */
const MAX_ROWS_READ_PER_PASS = 1000;
/**
 * The rule for a lost run: its events get a new run while they have been taken up by fewer
 * runs than this (`attempts`), and are failed with the reason otherwise. A run closed before it
 * took its events up (terminated or timed out while waiting for a worker, never started) does
 * not count, so such events always get a new run; a run that keeps being lost once it holds
 * the events is not helped by more of them.
 */
export const MAX_ATTEMPTS_RESTARTED = 3;
/** After a pass that failed (PostgreSQL or Temporal down), the next waits at least this long. */
const RETRY_AFTER_FAILURE_MS = 5000;

/**
 * What the sweeper decided about one run it asked Temporal about; `moved_on` when its rows
 * changed meanwhile (a reprocess, another process's sweep) and were left to that.
 */
export type SweepDecision = 'alive' | 'restarted' | 'failed' | 'moved_on';

export interface RunSweeperOptions {
  sql: Sql;
  workflows: Pick<EventWorkflowStarter, 'describeRun'>;
  /** Starts the new runs, under admission like every start. */
  outbox: Pick<Outbox, 'offer'>;
  logger: Logger;
  /** How often a pass runs; 0 leaves sweeping to other processes. */
  intervalMs: number;
  /** How long a `queued` or `processing` row goes unchanged before its run is looked at. */
  staleMs: number;
  /** Told each decision, for metrics. */
  onDecision?: (decision: SweepDecision) => void;
}

/** One run the sweeper asked Temporal about, and what it decided. */
export interface SweptRun {
  workflowId: string;
  decision: SweepDecision;
}

export interface RunSweeper {
  /** One pass now (tests; the loop runs them on its own). Resolves with its decisions. */
  sweep(): Promise<SweptRun[]>;
  /** Stops sweeping and waits for the pass under way. */
  stop(): Promise<void>;
}

interface LeasedRow {
  id: string;
  workflow_id: string;
  batch_id: string | null;
  status: string;
  attempts: number;
  user_id: string;
  event_name: string;
  event_type: string;
  checked_at: string;
}

/** The rows of one workflow run the pass looks at. */
interface Run {
  workflowId: string;
  scope: LostRunScope;
  item: OutboxItem;
  attempts: number;
}

/**
 * No state without a way out: finds `queued` and `processing` events whose workflow run is gone
 * or closed without finishing them (terminated, timed out, failed before marking them, lost
 * with Temporal's state, never started) and gives them a new run or fails them with the reason,
 * by `MAX_ATTEMPTS_RESTARTED`. The rows of one run (a single event, or a batch's) take one
 * decision together.
 *
 * - Only rows unchanged for `staleMs` are looked at: a live run moves its rows, and one that
 *   does not (waiting for a worker, retrying) is found alive by Temporal and looked at again
 *   `staleMs` later. Each pass asks Temporal about at most `MAX_RUNS_CHECKED_PER_PASS` runs.
 * - Several API processes sweep at once safely: a pass takes its rows up with one statement
 *   (`for update skip locked`, and a fresh `updated_at`, so no other pass looks at them for
 *   `staleMs`), and every decision moves only rows unchanged since then.
 * - A new run is started by the outbox, under admission, with the same workflow id.
 */
export function startRunSweeper(opts: RunSweeperOptions): RunSweeper {
  const { sql, workflows, outbox, logger } = opts;
  let stopped = false;
  let failing = false;
  const pause = createWakeableSleep();
  let running: Promise<SweptRun[]> | undefined;

  /** Takes up the stale rows of the runs to look at, oldest first. */
  async function lease(): Promise<Run[]> {
    const rows = await sql<LeasedRow>(
      `with sample as (
         select id, workflow_id, updated_at from events
          where status in ('queued', 'processing')
            and updated_at < now() - $1 * interval '1 millisecond'
          order by updated_at limit $2 for update skip locked),
       picked as (
         select workflow_id from sample group by workflow_id order by min(updated_at) limit $3)
       update events e set updated_at = now()
         from sample s
        where e.id = s.id and s.workflow_id in (select workflow_id from picked)
       returning e.id, e.workflow_id, e.batch_id, e.status, e.attempts, e.user_id,
                 e.event_name, e.event_type, now()::text as checked_at`,
      [opts.staleMs, MAX_ROWS_READ_PER_PASS, MAX_RUNS_CHECKED_PER_PASS],
    );
    const runs = new Map<string, Run>();
    for (const r of rows) {
      const known = runs.get(r.workflow_id);
      if (known) {
        known.attempts = Math.max(known.attempts, r.attempts);
        continue;
      }
      // A batch's event follows its batch's workflow, unless it was reprocessed on its own.
      const batch = r.batch_id && r.workflow_id === batchWorkflowId(r.batch_id) ? r.batch_id : null;
      runs.set(r.workflow_id, {
        workflowId: r.workflow_id,
        attempts: r.attempts,
        scope: batch
          ? { batchId: batch, workflowId: r.workflow_id, checkedAt: r.checked_at }
          : { eventId: r.id, checkedAt: r.checked_at },
        item: batch
          ? { kind: 'batch', id: batch, userId: r.user_id }
          : {
              kind: 'event',
              id: r.id,
              userId: r.user_id,
              eventName: r.event_name,
              eventType: r.event_type,
            },
      });
    }
    return [...runs.values()];
  }

  /** A live batch's other rows are not looked at again before `staleMs` either. */
  async function keepAlive(run: Run): Promise<void> {
    if (!('batchId' in run.scope)) return;
    await sql(
      `update events set updated_at = now()
        where batch_id = $1 and workflow_id = $2 and status in ('queued', 'processing')
          and updated_at < now() - $3 * interval '1 millisecond'`,
      [run.scope.batchId, run.workflowId, opts.staleMs],
    );
  }

  async function decide(run: Run): Promise<SweepDecision> {
    const state = await workflows.describeRun(run.workflowId);
    if (state.running) {
      await keepAlive(run);
      return 'alive';
    }
    const log = { workflow_id: run.workflowId, run_status: state.status, attempts: run.attempts };
    if (run.attempts < MAX_ATTEMPTS_RESTARTED) {
      const moved = await markLostRunReceived(sql, run.scope);
      if (moved === 0) return 'moved_on';
      logger.warn({ ...log, events: moved }, 'workflow run lost; starting a new run');
      outbox.offer(run.item);
      return 'restarted';
    }
    const failed = await markLostRunFailed(sql, run.scope, lostRunReason(state, run.attempts));
    const n = failed.reduce((sum, f) => sum + f.n, 0);
    if (n === 0) return 'moved_on';
    logger.warn({ ...log, events: n }, 'workflow run lost again; events failed');
    return 'failed';
  }

  async function pass(): Promise<SweptRun[]> {
    const runs = await lease();
    const decisions: SweptRun[] = [];
    let next = 0;
    let firstError: unknown;
    const checker = async () => {
      // After one failure (Temporal down, say), the rest wait for the next pass.
      while (next < runs.length && firstError === undefined) {
        const run = runs[next++]!;
        try {
          const decision = await decide(run);
          decisions.push({ workflowId: run.workflowId, decision });
          opts.onDecision?.(decision);
        } catch (err) {
          firstError ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CHECK_CONCURRENCY, runs.length) }, checker));
    if (firstError !== undefined) throw firstError;
    return decisions;
  }

  /** Passes never overlap, whoever asks for one. */
  function sweep(): Promise<SweptRun[]> {
    running ??= pass().finally(() => (running = undefined));
    return running;
  }

  const loop = (async () => {
    if (opts.intervalMs === 0) return;
    while (!stopped) {
      let pauseMs = opts.intervalMs;
      try {
        await sweep();
        if (failing) logger.info('sweeping for lost workflow runs succeeds again');
        failing = false;
      } catch (err) {
        if (!failing) logger.warn({ err }, 'sweeping for lost workflow runs failed; retrying');
        failing = true;
        pauseMs = Math.max(pauseMs, RETRY_AFTER_FAILURE_MS);
      }
      if (stopped) break;
      await pause.sleep(pauseMs);
    }
  })();

  return {
    sweep,
    async stop() {
      stopped = true;
      pause.wake();
      await loop;
      await running?.catch(() => undefined);
    },
  };
}

/** Temporal's run statuses as a reason says them. */
const CLOSED_AS: Record<string, string> = {
  NOT_FOUND: 'not found in Temporal',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed out',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  COMPLETED: 'completed',
};

/** Why the sweeper failed an event, as `processing_error` says it. */
export function lostRunReason(state: Exclude<RunState, { running: true }>, attempts: number) {
  const how = CLOSED_AS[state.status] ?? state.status.toLowerCase();
  return `error: its workflow run was ${how} without finishing it, after ${attempts} runs; reprocess it once the cause is fixed`;
}

/** The sweeper as the API process runs it, configured by RUN_SWEEP_*. */
export function startConfiguredRunSweeper(deps: {
  config: Config;
  orm: Orm;
  temporal: Client;
  outbox: Pick<Outbox, 'offer'>;
  logger: Logger;
  onDecision?: (decision: SweepDecision) => void;
}): RunSweeper {
  const { config, orm, temporal, outbox, logger, onDecision } = deps;
  return startRunSweeper({
    sql: createSql(orm),
    workflows: createEventWorkflowStarter(temporal, config),
    outbox,
    logger,
    intervalMs: config.runs.sweepIntervalMs,
    staleMs: config.runs.sweepStaleMs,
    onDecision,
  });
}
