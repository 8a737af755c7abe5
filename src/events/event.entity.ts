import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { UserSchema } from '../users/user.entity';
import { EVENT_STATUSES } from './event-status';

/** One product event as accepted over HTTP, and what processing made of it. */
export const EventSchema = defineEntity({
  name: 'Event',
  tableName: 'events',
  properties: (p) => ({
    id: p.uuid().primary(),
    user: p.manyToOne(UserSchema).ref(),
    eventName: p.string().length(255),
    eventType: p.string().length(255),
    /** What the client sent, verbatim. */
    payload: p.json<unknown>().nullable(),
    /** The normalized payload with metadata; set by processing. */
    properties: p.json<Record<string, unknown>>().nullable(),
    status: p.enum([...EVENT_STATUSES]).default('received'),
    processed: p.boolean().default(false),
    processedAt: p.datetime().columnType('timestamptz').nullable(),
    processingError: p.text().nullable(),
    workflowId: p.string().length(255),
    createdAt: p
      .datetime()
      .columnType('timestamptz')
      .onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .columnType('timestamptz')
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  }),
});

export type Event = InferEntity<typeof EventSchema>;
