import { setTimeout as delay } from 'node:timers/promises';
import { EventSchema } from '../../src/events/event.entity';
import type { AcceptedEvent, LiveStack } from './live-stack';

const SETTLE_TIMEOUT_MS = 60_000;

/** Polls the stored row until it has `status`. */
export async function waitForStatus(
  stack: LiveStack,
  ref: AcceptedEvent,
  status: string,
): Promise<void> {
  let last: string | undefined;
  await until(
    `event ${ref.eventId} to be ${status}`,
    async () => {
      const row = await stack.orm.em.fork().findOne(EventSchema, { id: ref.eventId });
      last = row?.status;
      return last === status;
    },
    () => `last status: ${last}`,
  );
}

/** Polls the workflow's current run until its status is `status` (e.g. `COMPLETED`). */
export async function waitForWorkflow(
  stack: LiveStack,
  ref: AcceptedEvent,
  status: string,
): Promise<void> {
  let last: string | undefined;
  await until(
    `workflow ${ref.workflowId} to be ${status}`,
    async () => {
      last = (await stack.temporal.workflow.getHandle(ref.workflowId).describe()).status.name;
      return last === status;
    },
    () => `last status: ${last}`,
  );
}

/** Polls Temporal's visibility store until `query` matches exactly `count` executions. */
export async function waitForCount(stack: LiveStack, query: string, count: number): Promise<void> {
  let last: number | undefined;
  await until(
    `${count} executions matching ${query}`,
    async () => {
      last = (await stack.temporal.workflow.count(query)).count;
      return last === count;
    },
    () => `last count: ${last}`,
  );
}

async function until(
  what: string,
  done: () => Promise<boolean>,
  state: () => string,
): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} (${state()})`);
    await delay(100);
  }
}
