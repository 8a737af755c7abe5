import type { Orm } from '../../src/db/orm';
import { EventSchema } from '../../src/events/event.entity';
import { newEventRow } from '../../src/events/event-rows';

/**
 * Inserts an event row directly, bypassing the API's schema: how rows written by another
 * producer (or an older API) reach the worker, whose rules must hold for them too.
 */
export async function insertEventRow(
  orm: Orm,
  row: { userId: string; eventName?: string; eventType?: string; payload?: unknown },
): Promise<string> {
  const { payloadJson: _none, ...base } = newEventRow(
    row.userId,
    { event_name: row.eventName ?? 'page_view', event_type: row.eventType ?? 'engagement' },
    { receivedAt: new Date() },
  );
  await orm.em.fork().insert(EventSchema, { ...base, payload: row.payload ?? null });
  return base.id;
}

export async function readEventRow(orm: Orm, id: string) {
  return orm.em.fork().findOneOrFail(EventSchema, { id });
}
