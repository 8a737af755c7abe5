import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { UserSchema } from '../users/user.entity';

/** One accepted batch request; its events point back to it. */
export const BatchSchema = defineEntity({
  name: 'Batch',
  tableName: 'batches',
  properties: (p) => ({
    id: p.uuid().primary(),
    user: p.manyToOne(UserSchema).ref(),
    workflowId: p.string().length(255),
    eventCount: p.integer(),
    sentAt: p.datetime().columnType('timestamptz').nullable(),
    receivedAt: p.datetime().columnType('timestamptz'),
    createdAt: p
      .datetime()
      .columnType('timestamptz')
      .onCreate(() => new Date()),
  }),
});

export type Batch = InferEntity<typeof BatchSchema>;
