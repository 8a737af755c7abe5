/**
 * A SQL statement as traces may show it: every literal value (string, dollar-quoted string,
 * number) replaced by `?`, the rest kept, and at most `maxChars` long. Statements the service
 * writes itself bind their values (`$1`), but MikroORM inlines them into the text it sends
 * (user ids, key hashes, payloads), and a trace is read by more people than the database is.
 *
 * Follows PostgreSQL's lexical rules: `''` inside a string, backslash escapes in `E'...'`,
 * `"quoted"` identifiers and comments kept as they are, `$n` parameters kept.
 */
export function withPlaceholders(sql: string, maxChars = Infinity): string {
  const out: string[] = [];
  let length = 0;
  let kept = 0;
  const emit = (text: string) => {
    out.push(text);
    length += text.length;
  };
  let i = 0;
  while (i < sql.length && length <= maxChars) {
    const end = literalEnd(sql, i);
    if (end !== null) {
      emit(sql.slice(kept, i));
      emit('?');
      i = kept = end;
      continue;
    }
    i = skipVerbatim(sql, i);
    if (i - kept > 4096) {
      emit(sql.slice(kept, i));
      kept = i;
    }
  }
  if (length <= maxChars) emit(sql.slice(kept, i));
  const text = out.join('');
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}

const IDENTIFIER_CHAR = /[\p{L}\p{N}_$]/u;
const isIdentifierChar = (c: string | undefined) => c !== undefined && IDENTIFIER_CHAR.test(c);
const NUMBER =
  /0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?/y;
const DOLLAR_TAG = /\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/y;

/** Where the literal starting at `i` ends, or null when none starts there. */
function literalEnd(sql: string, i: number): number | null {
  const c = sql[i]!;
  const prev = sql[i - 1];
  if (isIdentifierChar(prev)) return null;
  if (c === "'") return quotedEnd(sql, i + 1, false);
  if ((c === 'e' || c === 'E') && sql[i + 1] === "'") return quotedEnd(sql, i + 2, true);
  if (/[bBxXnN]/.test(c) && sql[i + 1] === "'") return quotedEnd(sql, i + 2, false);
  if ((c === 'u' || c === 'U') && sql[i + 1] === '&' && sql[i + 2] === "'") {
    return quotedEnd(sql, i + 3, false);
  }
  if (c === '$') {
    DOLLAR_TAG.lastIndex = i;
    const tag = DOLLAR_TAG.exec(sql)?.[0];
    if (!tag) return null;
    const close = sql.indexOf(tag, i + tag.length);
    return close === -1 ? sql.length : close + tag.length;
  }
  if (/[0-9.]/.test(c)) {
    NUMBER.lastIndex = i;
    const number = NUMBER.exec(sql)?.[0];
    return number ? i + number.length : null;
  }
  return null;
}

/** The index after the quote closing a string whose text starts at `i`. */
function quotedEnd(sql: string, i: number, backslashEscapes: boolean): number {
  for (let j = i; j < sql.length; j++) {
    const c = sql[j];
    if (backslashEscapes && c === '\\') j++;
    else if (c === "'") {
      if (sql[j + 1] !== "'") return j + 1;
      j++;
    }
  }
  return sql.length;
}

/** The index after what starts at `i` and is kept as it is: an identifier, comment or symbol. */
function skipVerbatim(sql: string, i: number): number {
  const c = sql[i];
  if (c === '-' && sql[i + 1] === '-') {
    const end = sql.indexOf('\n', i);
    return end === -1 ? sql.length : end;
  }
  if (c === '/' && sql[i + 1] === '*') {
    const end = sql.indexOf('*/', i + 2);
    return end === -1 ? sql.length : end + 2;
  }
  if (c === '"') {
    for (let j = i + 1; j < sql.length; j++) {
      if (sql[j] === '"') {
        if (sql[j + 1] !== '"') return j + 1;
        j++;
      }
    }
    return sql.length;
  }
  if (isIdentifierChar(c)) {
    let j = i + 1;
    while (isIdentifierChar(sql[j])) j++;
    return j;
  }
  return i + 1;
}
