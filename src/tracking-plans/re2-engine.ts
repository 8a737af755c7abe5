import type { RegExpEngine } from 'ajv/dist/types';
import { RE2JS } from 're2js';

/**
 * The engine ajv compiles a schema's `pattern` and `patternProperties` with: RE2 (the pure
 * JavaScript port, no native build), whose matching time is linear in the input, so no pattern
 * a client writes into a plan can make the worker backtrack for minutes over a 1 MB payload, as
 * `(a+)+$` does with JavaScript's engine. RE2 has no lookaround and no backreferences: a pattern
 * using them does not compile, and the plan is refused with the reason.
 */
export const re2Engine: RegExpEngine = Object.assign(
  (pattern: string) => {
    let re: RE2JS;
    try {
      re = RE2JS.compile(toRe2Syntax(pattern));
    } catch (err) {
      throw new Error(
        `pattern ${JSON.stringify(pattern)} is not RE2 syntax (no lookaround, no backreferences): ${(err as Error).message}`,
      );
    }
    // ajv shares a compiled pattern between keywords by this string: it must name the pattern.
    return { test: (s: string) => re.test(s), toString: () => `re2:${pattern}` };
  },
  { code: 're2js' },
);

/**
 * JSON Schema patterns are written for ECMAScript, whose `\uXXXX` and `\u{X}` escapes RE2
 * spells `\x{XXXX}`; everything else of the subset JSON Schema recommends reads the same.
 */
export function toRe2Syntax(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i]!;
    if (c !== '\\' || i + 1 >= pattern.length) {
      out += c;
      continue;
    }
    const next = pattern[i + 1]!;
    const braced = /^u\{([0-9a-fA-F]{1,6})\}/.exec(pattern.slice(i + 1, i + 11));
    const fixed = /^u([0-9a-fA-F]{4})/.exec(pattern.slice(i + 1, i + 6));
    if (braced) {
      out += `\\x{${braced[1]}}`;
      i += braced[0].length;
    } else if (fixed) {
      out += `\\x{${fixed[1]}}`;
      i += fixed[0].length;
    } else {
      // Any other escape is kept whole, so an escaped backslash is not read as the start of one.
      out += c + next;
      i += 1;
    }
  }
  return out;
}
