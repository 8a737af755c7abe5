import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * A client of the API. Only SHA-256 hashes of its keys are stored, never the keys: the API
 * token (`tokenHash`, every route) and the write key (`writeKeyHash`, the tracking routes only,
 * for web pages). A user created before write keys existed has none until it rotates one.
 */
export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: (p) => ({
    id: p.uuid().primary(),
    email: p.string().length(320).unique(),
    tokenHash: p.string().length(64).unique(),
    writeKeyHash: p.string().length(64).unique().nullable(),
    createdAt: p
      .datetime()
      .columnType('timestamptz')
      .onCreate(() => new Date()),
  }),
});

export type User = InferEntity<typeof UserSchema>;
