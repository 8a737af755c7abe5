/**
 * Remembers what an async lookup found, for `ttlMs`, so that a key sent with every request (an
 * API token, a write key) costs a database round trip once per `ttlMs` rather than per request.
 * Only hits are kept: a key created a moment ago works at once, and a flood of wrong keys cannot
 * fill the cache. A key revoked (or rotated away) keeps working in a process that found it for
 * at most `ttlMs` more. At most `maxEntries` are kept, the oldest dropped first.
 */
export interface LookupCache<V> {
  get(key: string, lookup: () => Promise<V | null>): Promise<V | null>;
  /** Forgets `key` here at once (a rotation in this process); other processes wait out the TTL. */
  forget(key: string): void;
}

export function createLookupCache<V>(options: {
  ttlMs: number;
  maxEntries: number;
  now?: () => number;
}): LookupCache<V> {
  const { ttlMs, maxEntries, now = Date.now } = options;
  const entries = new Map<string, { value: V; until: number }>();
  return {
    async get(key, lookup) {
      if (ttlMs <= 0) return lookup();
      const hit = entries.get(key);
      if (hit && hit.until > now()) return hit.value;
      if (hit) entries.delete(key);
      const value = await lookup();
      if (value !== null) {
        // Map keeps insertion order: the first key is the oldest.
        if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
        entries.set(key, { value, until: now() + ttlMs });
      }
      return value;
    },
    forget(key) {
      entries.delete(key);
    },
  };
}
