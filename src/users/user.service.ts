import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { sqlFor } from '../db/sql';
import { uuidv7 } from '../db/uuid';
import { generateToken, generateWriteKey, hashToken, keyKindOf } from './tokens';
import { UserSchema, type User } from './user.entity';

/** Thrown by `createUser` when the e-mail address is already registered. */
export class EmailTakenError extends Error {
  override readonly name = 'EmailTakenError';
  constructor(readonly email: string) {
    super(`a user with e-mail ${email} already exists`);
  }
}

/** A user's keys as shown once, at creation: only their hashes are stored. */
export interface CreatedUser {
  id: string;
  email: string;
  /** The API token: every route. */
  token: string;
  /** The write key: the tracking routes only, for web pages and apps. */
  write_key: string;
}

/** Creates a user with its API token and write key. */
export async function createUser(em: EntityManager, email: string): Promise<CreatedUser> {
  const token = generateToken();
  const writeKey = generateWriteKey();
  const id = uuidv7();
  const normalized = email.trim().toLowerCase();
  try {
    await em.insert(UserSchema, {
      id,
      email: normalized,
      tokenHash: hashToken(token),
      writeKeyHash: hashToken(writeKey),
      createdAt: new Date(),
    });
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw new EmailTakenError(normalized);
    throw err;
  }
  return { id, email: normalized, token, write_key: writeKey };
}

/**
 * The routes a key is presented to: `api` (`/api/v1/*`, which reads events) takes the API
 * token only; `tracking` (`/v1/*`, which only sends them) takes the write key or the API token.
 */
export type RouteKind = 'api' | 'tracking';

/**
 * The user owning `key`, if that key may be used on `route`; null otherwise. Every route
 * authenticates through here. Looked up by the key's SHA-256: timing reveals nothing about the
 * key itself.
 */
export async function findUserByKey(
  em: EntityManager,
  key: string,
  route: RouteKind,
): Promise<User | null> {
  const kind = keyKindOf(key);
  if (kind === 'token') return em.findOne(UserSchema, { tokenHash: hashToken(key) });
  if (kind === 'write_key' && route === 'tracking') {
    return em.findOne(UserSchema, { writeKeyHash: hashToken(key) });
  }
  return null;
}

/**
 * Gives a user a new write key in place of its previous one, which stops working at once (a
 * lookup cached in front of `findUserByKey` must forget it). Users created before write keys
 * existed get their first one this way. Returns the key, shown once; null for no such user.
 */
export async function rotateWriteKey(
  em: EntityManager,
  who: { id: string } | { email: string },
): Promise<CreatedWriteKey | null> {
  const writeKey = generateWriteKey();
  const [column, value] = 'id' in who ? ['id', who.id] : ['email', who.email.trim().toLowerCase()];
  const [row] = await sqlFor(em)<{ id: string; email: string }>(
    `update "users" set "write_key_hash" = $1 where "${column}" = $2 returning "id", "email"`,
    [hashToken(writeKey), value],
  );
  return row ? { id: row.id, email: row.email, write_key: writeKey } : null;
}

/** A new write key as shown once, with the user it belongs to. */
export type CreatedWriteKey = Omit<CreatedUser, 'token'>;
