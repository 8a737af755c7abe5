import { uuidv7 } from '../../src/db/uuid';
import type { Orm } from '../../src/db/orm';
import { EventSchema } from '../../src/events/event.entity';
import { eventWorkflowId } from '../../src/temporal/event-workflows';

/**
 * Inserts an event row directly, bypassing the API's schema: how rows written by another
 * producer (or an older API) reach the worker, whose rules must hold for them too.
 */
export async function insertEventRow(
  orm: Orm,
  row: { userId: string; eventName?: string; eventType?: string; payload?: unknown },
): Promise<string> {
  const id = uuidv7();
  const now = new Date();
  await orm.em.fork().insert(EventSchema, {
    id,
    user: row.userId,
    eventName: row.eventName ?? 'page_view',
    eventType: row.eventType ?? 'engagement',
    payload: row.payload ?? null,
    status: 'received',
    processed: false,
    workflowId: eventWorkflowId(id),
    createdAt: now,
    updatedAt: now,
  });
  return id;
}

export async function readEventRow(orm: Orm, id: string) {
  return orm.em.fork().findOneOrFail(EventSchema, { id });
}
