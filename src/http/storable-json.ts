import { ExactInteger } from '../json/exact-json';

/**
 * Finds the first value PostgreSQL cannot store faithfully, or a structure too deep to be an
 * event: NUL characters (rejected in jsonb and text), lone UTF-16 surrogates (they would be
 * replaced silently on the way to UTF-8), numbers JSON parsing made infinite, and nesting
 * past `maxDepth`. Iterative, so hostile
 * input cannot overflow the stack. Returns a JSON path and a reason, or null.
 */
export function findUnstorable(
  value: unknown,
  maxDepth: number,
): { path: string; reason: string } | null {
  const stack: { v: unknown; path: string; depth: number }[] = [{ v: value, path: '$', depth: 0 }];
  while (stack.length > 0) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const reason = badString(v);
      if (reason) return { path, reason };
      continue;
    }
    if (typeof v === 'number') {
      // JSON.parse turns 1e400 into Infinity (stored as null). Integer literals past 2^53
      // arrive as ExactInteger, not as numbers, so every finite number here is kept exactly.
      if (!Number.isFinite(v)) return { path, reason: 'is a number out of range' };
      continue;
    }
    if (v === null || typeof v !== 'object' || v instanceof ExactInteger) continue;
    if (depth + 1 > maxDepth) return { path, reason: `nesting deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      v.forEach((child, i) => stack.push({ v: child, path: `${path}[${i}]`, depth: depth + 1 }));
    } else {
      for (const [k, child] of Object.entries(v)) {
        const keyReason = badString(k);
        if (keyReason) return { path: `${path}.${k}`, reason: `key ${keyReason}` };
        stack.push({ v: child, path: `${path}.${k}`, depth: depth + 1 });
      }
    }
  }
  return null;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function badString(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate, which is not valid Unicode';
  return null;
}
