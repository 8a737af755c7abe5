import { ExactInteger } from '../json/exact-json';

/** One object or array on the path from the root to the value being checked. */
interface Frame {
  node: Record<string, unknown> | unknown[];
  /** The object's keys; null for an array. */
  keys: string[] | null;
  /** The index of the next child to check. */
  next: number;
  length: number;
}

/**
 * Finds the first value PostgreSQL cannot store faithfully, or a structure too deep to be an
 * event: NUL characters (rejected in jsonb and text), lone UTF-16 surrogates (they would be
 * replaced silently on the way to UTF-8), numbers JSON parsing made infinite, and nesting past
 * `maxDepth`. Returns a JSON path and a reason, or null.
 *
 * Iterative, so hostile input cannot overflow the stack, and it holds only the path from the
 * root to the current value: memory grows with depth, not with the number of elements (a 2 MB
 * body of `[0,0,...]` is a million elements). The path string is built only for the answer.
 */
export function findUnstorable(
  value: unknown,
  maxDepth: number,
): { path: string; reason: string } | null {
  const rootReason = leafReason(value);
  if (rootReason) return { path: '$', reason: rootReason };
  if (!isContainer(value)) return null;
  if (maxDepth < 1) return { path: '$', reason: `nesting deeper than ${maxDepth} levels` };
  const frames: Frame[] = [frameOf(value)];
  while (frames.length > 0) {
    const top = frames[frames.length - 1]!;
    if (top.next >= top.length) {
      frames.pop();
      continue;
    }
    const i = top.next++;
    let child: unknown;
    if (top.keys) {
      const key = top.keys[i]!;
      const keyReason = unstorableTextReason(key);
      if (keyReason) return { path: pathOf(frames), reason: `key ${keyReason}` };
      child = (top.node as Record<string, unknown>)[key];
    } else {
      child = (top.node as unknown[])[i];
    }
    const reason = leafReason(child);
    if (reason) return { path: pathOf(frames), reason };
    if (isContainer(child)) {
      if (frames.length + 1 > maxDepth) {
        return { path: pathOf(frames), reason: `nesting deeper than ${maxDepth} levels` };
      }
      frames.push(frameOf(child));
    }
  }
  return null;
}

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return v !== null && typeof v === 'object' && !(v instanceof ExactInteger);
}

function frameOf(node: Record<string, unknown> | unknown[]): Frame {
  if (Array.isArray(node)) return { node, keys: null, next: 0, length: node.length };
  const keys = Object.keys(node);
  return { node, keys, next: 0, length: keys.length };
}

/** The path of the child each frame checked last: `$.a[3].b`, odd keys quoted (see `keyStep`). */
function pathOf(frames: Frame[]): string {
  let path = '$';
  for (const f of frames) path += f.keys ? keyStep(f.keys[f.next - 1]!) : `[${f.next - 1}]`;
  return path;
}

const PLAIN_KEY = /^[A-Za-z_$][\w$]*$/;
/** Keys longer than this are cut in a path: the path names a place, it need not copy a key. */
const MAX_KEY_IN_PATH = 64;

/**
 * `.key`, or `["key"]` as a JSON string for any other key: the path goes into error messages
 * and into the `processing_error` of a tracking message stored failed, so the very key that
 * was refused (a NUL, a lone surrogate) must appear escaped, never as itself.
 */
function keyStep(key: string): string {
  if (PLAIN_KEY.test(key) && key.length <= MAX_KEY_IN_PATH) return `.${key}`;
  const shown = key.length > MAX_KEY_IN_PATH ? `${key.slice(0, MAX_KEY_IN_PATH)}…` : key;
  // JSON.stringify escapes NUL and control characters, and lone surrogates (a cut pair too).
  return `[${JSON.stringify(shown)}]`;
}

/** Why a string or number cannot be stored, or null (containers are checked by the walk). */
function leafReason(v: unknown): string | null {
  if (typeof v === 'string') return unstorableTextReason(v);
  // JSON.parse turns 1e400 into Infinity (stored as null). Integer literals past 2^53 arrive
  // as ExactInteger, not as numbers, so every finite number here is kept exactly.
  if (typeof v === 'number' && !Number.isFinite(v)) return 'is a number out of range';
  return null;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why PostgreSQL cannot hold this text (in a text column, a jsonb string or key), or null. */
export function unstorableTextReason(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (LONE_SURROGATE.test(s)) return 'contains a lone UTF-16 surrogate, which is not valid Unicode';
  return null;
}

const UNSTORABLE_CHARACTERS =
  /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * The text with what PostgreSQL refuses written as JSON-style escapes (`\u0000`, `\ud800`),
 * for text the service writes itself from what a client sent, such as the reason a message is
 * stored failed: the reason must be storable whatever it quotes.
 */
export function escapeUnstorable(s: string): string {
  return s.replace(
    UNSTORABLE_CHARACTERS,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
