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

/**
 * `value` as JSON text with each of `fields` appended as it is: JSON text kept exactly (jsonb
 * read as text, a payload as the edge wrote it), which a round trip through a JavaScript value
 * would change (integers past 2^53). A null field is written `null`.
 */
export function withJsonFields(value: object, fields: Record<string, string | null>): string {
  const head = JSON.stringify(value);
  const tail = Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}:${v ?? 'null'}`);
  return `${head.slice(0, -1)}${head === '{}' ? '' : ','}${tail.join(',')}}`;
}

/** Sixteen digits in a row: an unsafe integer literal has at least that many. */
const LONG_DIGIT_RUN = /\d{16}/;

/**
 * Where the text holds integer literals (no fraction, no exponent) that are not safe integers:
 * [start, end) offsets, in order. The text is valid JSON (parsed before), so a number runs
 * over digits, sign, point and exponent characters, and every number outside a string is a
 * value. A character loop rather than a regular expression per number: a 16 MB batch of
 * numbers holds millions of them, and the scan runs while the event loop waits.
 */
function unsafeIntegerSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  // Most bodies have no run of 16 digits anywhere: one native search settles those.
  if (!LONG_DIGIT_RUN.test(text)) return spans;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = endOfString(text, i);
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      let integer = true;
      for (; j < n; j += 1) {
        const d = text.charCodeAt(j);
        if (d >= 0x30 && d <= 0x39) continue;
        // . e E + -
        if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) integer = false;
        else break;
      }
      if (integer && j - i >= 16 && !Number.isSafeInteger(Number(text.slice(i, j)))) {
        spans.push([i, j]);
      }
      i = j;
    } else {
      i += 1;
    }
  }
  return spans;
}

/** The offset just past the string that opens at `open`: its closing quote is the first one not escaped. */
function endOfString(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c /* \ */) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}
