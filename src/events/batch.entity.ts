import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { UserSchema } from '../users/user.entity';
import { SHORT_TEXT_LENGTH } from '../db/column-limits';

/** One accepted batch request; its events point back to it. */
export const BatchSchema = defineEntity({
  name: 'Batch',
  tableName: 'batches',
  properties: (p) => ({
    id: p.uuid().primary(),
    user: p.manyToOne(UserSchema).ref(),
    workflowId: p.string().length(SHORT_TEXT_LENGTH),
    eventCount: p.integer(),
    /** The request's `Idempotency-Key`: per user it names at most one batch, forever. */
    idempotencyKey: p.string().length(SHORT_TEXT_LENGTH).nullable(),
    /** SHA-256 of the batch's events as accepted, to tell a retry from a reused key. */
    requestFingerprint: p.string().length(64).nullable(),
    sentAt: p.datetime().columnType('timestamptz').nullable(),
    receivedAt: p.datetime().columnType('timestamptz'),
    createdAt: p
      .datetime()
      .columnType('timestamptz')
      .onCreate(() => new Date()),
  }),
});

export type Batch = InferEntity<typeof BatchSchema>;
