import { defineEntity, type InferEntity } from '@mikro-orm/core';

/** A client of the API. Only the SHA-256 of the API token is stored, never the token. */
export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: (p) => ({
    id: p.uuid().primary(),
    email: p.string().length(320).unique(),
    tokenHash: p.string().length(64).unique(),
    createdAt: p
      .datetime()
      .columnType('timestamptz')
      .onCreate(() => new Date()),
  }),
});

export type User = InferEntity<typeof UserSchema>;
