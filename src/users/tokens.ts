import { createHash, randomBytes } from 'node:crypto';

const TOKEN_PREFIX = 'evt_';
const TOKEN_RE = /^evt_[A-Za-z0-9_-]{43}$/;

/** A new API token: 256 random bits, prefixed so leaked tokens are recognisable in scanners. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * SHA-256 of the token, hex. A fast hash is enough here: tokens carry 256 bits of entropy, so
 * there is nothing to brute-force, and a deterministic hash lets the database index the lookup.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Cheap shape check, so garbage never reaches the database. */
export const looksLikeToken = (s: string): boolean => TOKEN_RE.test(s);
