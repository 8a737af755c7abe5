import { randomBytes } from 'node:crypto';

/**
 * An integer literal whose digits a JavaScript number cannot hold (beyond 2^53), kept as the
 * digits that were sent. PostgreSQL's jsonb stores numbers with arbitrary precision, so these
 * are stored and returned exactly rather than rounded or refused.
 */
export class ExactInteger {
  constructor(readonly digits: string) {}

  /** Only for `stringifyExactly`, which replaces the marker with the digits. */
  toJSON(): string {
    return `${MARKER}${this.digits}`;
  }
}

/**
 * Stands for an exact integer inside JSON text on its way through JSON.parse and
 * JSON.stringify. It starts with NUL, which no accepted string holds (see storable-json.ts),
 * and a per-process random part, so no string a client sends can pass for it.
 */
const MARKER = `\u0000exact-${randomBytes(8).toString('hex')}:`;
/** The marker as JSON text writes it: NUL escaped. */
const ESCAPED_MARKER = `\\u0000${MARKER.slice(1)}`;
const STRINGIFIED_MARKER = new RegExp(`"\\${ESCAPED_MARKER}(-?\\d+)"`, 'g');

/**
 * JSON.parse, except that integer literals past 2^53 become `ExactInteger`s holding their
 * digits. Throws JSON.parse's SyntaxError for invalid text. Bodies without such literals (the
 * usual case) cost one scan on top of JSON.parse.
 */
export function parseExactly(text: string): unknown {
  // Parse the text as sent first: the rewrite below must never make invalid JSON valid.
  const plain = JSON.parse(text) as unknown;
  const spans = unsafeIntegerSpans(text);
  if (spans.length === 0) return plain;
  let rewritten = '';
  let at = 0;
  for (const [start, end] of spans) {
    rewritten += `${text.slice(at, start)}"${ESCAPED_MARKER}${text.slice(start, end)}"`;
    at = end;
  }
  rewritten += text.slice(at);
  return JSON.parse(rewritten, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(MARKER)
      ? new ExactInteger(value.slice(MARKER.length))
      : value,
  ) as unknown;
}

/** JSON.stringify, writing each `ExactInteger` as its digits. */
export function stringifyExactly(value: unknown): string {
  const text = JSON.stringify(value);
  return text.includes('\\u0000') ? text.replace(STRINGIFIED_MARKER, '$1') : text;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

/**
 * Where the text holds integer literals (no fraction, no exponent) that are not safe integers:
 * [start, end) offsets, in order. Skips strings; outside strings every number is a value.
 */
function unsafeIntegerSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i += 1;
      while (i < text.length) {
        const s = text.charCodeAt(i);
        if (s === 0x5c /* \ */) i += 2;
        else if (s === 0x22) break;
        else i += 1;
      }
      i += 1;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) {
        i += 1;
        continue;
      }
      const end = i + m[0].length;
      // 16+ characters: shorter integer literals are always safe.
      if (!m[1] && !m[2] && m[0].length >= 16 && !Number.isSafeInteger(Number(m[0]))) {
        spans.push([i, end]);
      }
      i = end;
    } else {
      i += 1;
    }
  }
  return spans;
}
