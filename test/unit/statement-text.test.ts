import { withPlaceholders } from '../../src/db/statement-text';

describe('withPlaceholders', () => {
  it.each([
    [
      `select "u0".* from "users" as "u0" where "u0"."token_hash" = 'ab12cd' limit 1`,
      `select "u0".* from "users" as "u0" where "u0"."token_hash" = ? limit ?`,
    ],
    [
      `insert into t (a, b) values ('it''s', E'back\\\\slash \\' quote')`,
      `insert into t (a, b) values (?, ?)`,
    ],
    [`select 1.5e3, .5, 0x1F, 1_000, -42`, `select ?, ?, ?, ?, -?`],
    [`select $1::uuid, $2, t1.c2 from t1`, `select $1::uuid, $2, t1.c2 from t1`],
    [`select $$dollar 'quoted'$$, $tag$ x $$ y $tag$`, `select ?, ?`],
    [`select "we""ird 'id'" from "t2"`, `select "we""ird 'id'" from "t2"`],
    [
      `select x -- the user's row\nfrom t where y = 'v'`,
      `select x -- the user's row\nfrom t where y = ?`,
    ],
    [`select /* it's */ 'v'`, `select /* it's */ ?`],
    [`select B'101', X'ff', U&'d\\0061t', N'n'`, `select ?, ?, ?, ?`],
    [
      `update "events" set "status" = 'failed' where "id" in ('0190', '0191')`,
      `update "events" set "status" = ? where "id" in (?, ?)`,
    ],
  ])('%s', (sql, expected) => {
    expect(withPlaceholders(sql)).toBe(expected);
  });

  it('replaces an unterminated string to the end rather than keep it', () => {
    expect(withPlaceholders(`select 'secret`)).toBe('select ?');
  });

  it('cuts a long statement after its placeholders are in', () => {
    const values = Array.from({ length: 5000 }, (_, i) => `('secret-${i}')`).join(', ');
    const text = withPlaceholders(`insert into t (a) values ${values}`, 100);
    expect(text).toHaveLength(101);
    expect(text.endsWith('…')).toBe(true);
    expect(text).not.toContain('secret');
    expect(withPlaceholders(`insert into t (a) values ${values}`)).toBe(
      `insert into t (a) values ${Array.from({ length: 5000 }, () => '(?)').join(', ')}`,
    );
  });
});
