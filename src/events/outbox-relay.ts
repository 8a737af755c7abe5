import type { Orm } from '../db/orm';
import type { Logger } from '../logger';
import type { EventWorkflowStarter } from '../temporal/event-workflows';

export interface OutboxRelayOptions {
  orm: Orm;
  workflows: EventWorkflowStarter;
  logger: Logger;
  /** How often to look for events whose workflow may not have started. */
  intervalMs: number;
  /** How long an event may wait for its workflow before the relay (re)starts it. */
  graceMs: number;
  /** Most events handled per pass. */
  batchSize: number;
}

interface PendingRow {
  id: string;
  user_id: string;
  event_name: string;
  event_type: string;
  batch_id: string | null;
  workflow_id: string;
}

/**
 * Makes sure every committed event gets its workflow. Events the API could not hand to Temporal
 * are `waiting`; `received` ones older than the grace period may have lost their start to a
 * crash between commit and start. Starting again is harmless: workflow ids are the event and
 * batch ids, so Temporal refuses a second run while one exists. Rows are claimed with
 * SKIP LOCKED, so several API processes can run relays side by side.
 */
export function startOutboxRelay(opts: OutboxRelayOptions): { stop(): Promise<void> } {
  const { orm, workflows, logger, intervalMs, graceMs, batchSize } = opts;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let temporalDown = false;

  async function pass(): Promise<number> {
    return orm.em.fork().transactional(async (tx) => {
      const rows = await tx.execute<PendingRow[]>(
        `select id, user_id, event_name, event_type, batch_id, workflow_id from events
          where status in ('waiting', 'received') and updated_at < now() - ? * interval '1 millisecond'
          order by updated_at limit ? for update skip locked`,
        [graceMs, batchSize],
      );
      const started: string[] = [];
      const batches = new Map<string, PendingRow[]>();
      for (const row of rows) {
        // A batch's event follows its batch's workflow, unless it was reprocessed on its own.
        if (row.batch_id && row.workflow_id === `batch-${row.batch_id}`) {
          batches.set(row.batch_id, [...(batches.get(row.batch_id) ?? []), row]);
          continue;
        }
        await workflows.startEvent({
          id: row.id,
          userId: row.user_id,
          eventName: row.event_name,
          eventType: row.event_type,
        });
        started.push(row.id);
      }
      for (const [batchId, members] of batches) {
        await workflows.startBatch({ id: batchId, userId: members[0]!.user_id });
        started.push(...members.map((m) => m.id));
      }
      if (started.length > 0) {
        await tx.execute(
          `update events set status = case when status = 'waiting' then 'received' else status end,
                  updated_at = now()
            where id = any(?::uuid[])`,
          [`{${started.join(',')}}`],
        );
      }
      return started.length;
    });
  }

  const tick = () => {
    running = pass().then(
      (n) => {
        if (n > 0) logger.info({ started: n }, 'outbox relay started workflows for waiting events');
        if (temporalDown) logger.info('outbox relay: Temporal reachable again');
        temporalDown = false;
      },
      (err: unknown) => {
        // Logged once per outage, not once per pass.
        if (!temporalDown) logger.warn({ err }, 'outbox relay pass failed; retrying');
        temporalDown = true;
      },
    );
    void running.then(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  timer = setTimeout(tick, intervalMs);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
