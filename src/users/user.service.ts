import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { uuidv7 } from '../db/uuid';
import { generateToken, hashToken, looksLikeToken } from './tokens';
import { UserSchema, type User } from './user.entity';

/** Thrown by `createUser` when the e-mail address is already registered. */
export class EmailTakenError extends Error {
  override readonly name = 'EmailTakenError';
  constructor(readonly email: string) {
    super(`a user with e-mail ${email} already exists`);
  }
}

/** Creates a user and returns its token; the token is shown once and only its hash is stored. */
export async function createUser(
  em: EntityManager,
  email: string,
): Promise<{ id: string; email: string; token: string }> {
  const token = generateToken();
  const id = uuidv7();
  const normalized = email.trim().toLowerCase();
  try {
    await em.insert(UserSchema, {
      id,
      email: normalized,
      tokenHash: hashToken(token),
      createdAt: new Date(),
    });
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) throw new EmailTakenError(normalized);
    throw err;
  }
  return { id, email: normalized, token };
}

/** The user owning `token`, or null. */
export async function findUserByToken(em: EntityManager, token: string): Promise<User | null> {
  if (!looksLikeToken(token)) return null;
  const hash = hashToken(token);
  // Looked up by the token's SHA-256: timing reveals nothing about the token itself.
  return em.findOne(UserSchema, { tokenHash: hash });
}
