import type { EntityManager } from '@mikro-orm/postgresql';
import { hashToken } from './tokens';
import type { User } from './user.entity';
import { findUserByKey, type RouteKind } from './user.service';

/** The user a key names, as every route authenticates (see `findUserByKey`), remembered a while. */
export interface KeyLookup {
  /** `em` is asked for only on a miss: a request whose key is remembered needs no unit of work. */
  find(em: () => EntityManager, key: string, route: RouteKind): Promise<User | null>;
  /** Forgets the user's keys in this process at once: its write key was replaced. */
  forgetUser(userId: string): void;
}

/**
 * `findUserByKey` behind a cache of what it found, for `ttlMs`: a key is sent with every request,
 * and a database round trip per request was the largest part of accepting one. Only hits are
 * kept, so a key created a moment ago works at once and a flood of wrong keys cannot fill the
 * cache; at most `maxEntries` are kept, oldest first out. A write key replaced in one API process
 * stops working there at once and in the others within `ttlMs` (KEY_CACHE_TTL_MS). Entries are
 * keyed by the key's SHA-256, so no key sits in memory longer than its request.
 */
export function createKeyLookup(options: { ttlMs: number; maxEntries: number }): KeyLookup {
  const { ttlMs, maxEntries } = options;
  const entries = new Map<string, { user: User; until: number }>();
  return {
    async find(em, key, route) {
      if (ttlMs <= 0) return findUserByKey(em(), key, route);
      const id = `${route}:${hashToken(key)}`;
      const hit = entries.get(id);
      if (hit && hit.until > Date.now()) return hit.user;
      if (hit) entries.delete(id);
      const user = await findUserByKey(em(), key, route);
      if (user) {
        // A Map iterates in insertion order: the first entry is the oldest.
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
        entries.set(id, { user, until: Date.now() + ttlMs });
      }
      return user;
    },
    forgetUser(userId) {
      for (const [id, entry] of entries) if (entry.user.id === userId) entries.delete(id);
    },
  };
}
