import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether an `Authorization` header may read metrics: always when no token is configured,
 * otherwise only with `Bearer <token>`. Compares digests in constant time so the token cannot
 * be guessed byte by byte from response times.
 */
export function mayScrape(authorization: string | undefined, token: string | undefined): boolean {
  if (token === undefined) return true;
  const sent = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (sent === undefined) return false;
  return timingSafeEqual(digest(sent), digest(token));
}

const digest = (s: string) => createHash('sha256').update(s).digest();
