import { createHash, randomBytes } from 'node:crypto';

/** The two kinds of key a user holds. */
export type KeyKind = 'token' | 'write_key';

/**
 * Prefixes make a leaked key recognisable in scanners and tell the two kinds apart before any
 * database query: `evt_` is the API token (everything), `evw_` the write key (sending only).
 */
const PREFIXES: Record<KeyKind, string> = { token: 'evt_', write_key: 'evw_' };
const KEY_RE = /^(evt|evw)_[A-Za-z0-9_-]{43}$/;

/** A new API token: 256 random bits, prefixed. */
export function generateToken(): string {
  return generateKey('token');
}

/** A new write key: 256 random bits, prefixed apart from API tokens. */
export function generateWriteKey(): string {
  return generateKey('write_key');
}

function generateKey(kind: KeyKind): string {
  return PREFIXES[kind] + randomBytes(32).toString('base64url');
}

/**
 * SHA-256 of a key, hex. A fast hash is enough here: keys carry 256 bits of entropy, so there
 * is nothing to brute-force, and a deterministic hash lets the database index the lookup.
 */
export function hashToken(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** What kind of key `s` has the shape of, or null: garbage never reaches the database. */
export function keyKindOf(s: string): KeyKind | null {
  const match = KEY_RE.exec(s);
  if (!match) return null;
  return match[1] === 'evt' ? 'token' : 'write_key';
}
