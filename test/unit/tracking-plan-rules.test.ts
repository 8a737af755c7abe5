import { checkAgainstPlan, planTarget, withPlainNumbers } from '../../activities/plan-rules';
import { ExactInteger, parseExactly } from '../../src/json/exact-json';
import { compilePlan, PlanCompileError } from '../../src/tracking-plans/compile-plan';
import type { PlanDefinition } from '../../src/tracking-plans/plan-definition';
import { toRe2Syntax } from '../../src/tracking-plans/re2-engine';

const plan = (events: PlanDefinition['events'], extra: Partial<PlanDefinition> = {}) =>
  compilePlan({ mode: 'enforce', unplanned: 'allow', events, ...extra });

const rest = (payload: Record<string, unknown>, eventName = 'e') => ({
  eventName,
  eventType: 'custom',
  source: 'api' as const,
  payload,
});

describe('checkAgainstPlan', () => {
  it('names each violation by path and rule, and bounds the reason', () => {
    const compiled = plan({
      e: { type: 'object', additionalProperties: { type: 'integer' } },
    });
    const payload = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, 'x']));
    const verdict = checkAgainstPlan(compiled, 7, rest(payload));
    if (verdict.kind !== 'reject') throw new Error(`expected a rejection, got ${verdict.kind}`);
    expect(verdict.violations).toHaveLength(20);
    expect(verdict.violations[0]).toEqual({
      path: 'payload.k0',
      rule: 'type',
      message: 'must be integer',
    });
    expect(verdict.reason).toMatch(
      /^tracking plan version 7: payload\.k0: must be integer; .*payload\.k9: must be integer; and 20 more$/,
    );
    expect(verdict.summary).toBe(
      'breaks tracking plan version 7 (30 violations, listed on the event)',
    );
  });

  it('names the property additionalProperties refuses, and escapes of the JSON pointer', () => {
    const compiled = plan({
      e: {
        type: 'object',
        properties: { 'a/b': { type: 'object', properties: { 'c~d': { type: 'string' } } } },
        additionalProperties: false,
      },
    });
    const verdict = checkAgainstPlan(compiled, 1, rest({ 'a/b': { 'c~d': 1 }, extra: 1 }));
    expect(verdict).toMatchObject({
      kind: 'reject',
      violations: [
        {
          path: 'payload',
          rule: 'additionalProperties',
          message: 'must NOT have additional properties ("extra")',
        },
        { path: 'payload.a/b.c~d', rule: 'type', message: 'must be string' },
      ],
    });
  });

  it('reports without rejecting in report mode, and checks nothing when off', () => {
    const events = { e: { type: 'object', required: ['k'] } };
    expect(checkAgainstPlan(plan(events, { mode: 'report' }), 1, rest({}))).toEqual({
      kind: 'report',
      violations: [
        { path: 'payload', rule: 'required', message: "must have required property 'k'" },
      ],
    });
    expect(
      checkAgainstPlan(plan(events, { mode: 'off', unplanned: 'reject' }), 1, rest({}, 'x')),
    ).toEqual({
      kind: 'pass',
    });
  });

  it('treats an unplanned event as the plan says', () => {
    expect(checkAgainstPlan(plan({}), 1, rest({}, 'x'))).toEqual({ kind: 'pass' });
    expect(checkAgainstPlan(plan({}, { unplanned: 'reject' }), 2, rest({}, 'x'))).toMatchObject({
      kind: 'reject',
      reason: 'tracking plan version 2 has no schema for "x", and rejects unplanned events',
      summary: 'not in tracking plan version 2, which rejects unplanned events',
    });
    expect(
      checkAgainstPlan(plan({}, { unplanned: 'reject', mode: 'report' }), 2, rest({}, 'x')),
    ).toMatchObject({ kind: 'report', violations: [{ path: 'event_name', rule: 'unplanned' }] });
  });

  it('never cuts a surrogate pair when it clips a long path', () => {
    // 'payload.' and 184 characters, then pairs: the cut at 199 units falls inside the fourth.
    const key = `${'a'.repeat(184)}${'😀'.repeat(10)}`;
    const verdict = checkAgainstPlan(
      plan({ e: { type: 'object', additionalProperties: { type: 'integer' } } }),
      1,
      rest({ [key]: 'x' }),
    );
    if (verdict.kind !== 'reject') throw new Error('expected a rejection');
    const path = verdict.violations[0]!.path;
    expect(path.length).toBeLessThanOrEqual(200);
    expect(path.endsWith('…')).toBe(true);
    expect(path).toBe(`payload.${'a'.repeat(184)}${'😀'.repeat(3)}…`);
  });

  it('reads integers past 2^53 as the numbers they are', () => {
    const payload = parseExactly(
      '{"n":123456789012345678901234567890,"list":[1,18446744073709551615]}',
    );
    const compiled = plan({
      e: {
        type: 'object',
        properties: {
          n: { type: 'integer', minimum: 1e29 },
          list: { type: 'array', items: { type: 'integer' } },
        },
      },
    });
    expect(checkAgainstPlan(compiled, 1, rest(payload as Record<string, unknown>))).toEqual({
      kind: 'pass',
    });
    const small = plan({ e: { properties: { n: { maximum: 10 } } } });
    expect(checkAgainstPlan(small, 1, rest(payload as Record<string, unknown>))).toMatchObject({
      kind: 'reject',
      violations: [{ path: 'payload.n', rule: 'maximum' }],
    });
  });

  it('refuses a value on which the schema recurses without end, as a violation', () => {
    // Compiles (a plain object does not reach the loop); a string at s does.
    const compiled = plan({
      e: { properties: { s: { if: { type: 'string' }, then: { $ref: '#/properties/s' } } } },
    });
    expect(checkAgainstPlan(compiled, 1, rest({ s: 1 }))).toEqual({ kind: 'pass' });
    expect(checkAgainstPlan(compiled, 1, rest({ s: 'x' }))).toMatchObject({
      kind: 'reject',
      violations: [{ path: 'payload', rule: '$ref', message: expect.stringMatching(/recurses/) }],
    });
  });

  it('runs a catastrophic pattern in linear time', () => {
    const compiled = plan({ e: { properties: { s: { type: 'string', pattern: '^(a+)+$' } } } });
    const started = Date.now();
    const verdict = checkAgainstPlan(compiled, 1, rest({ s: `${'a'.repeat(100_000)}!` }));
    expect(verdict).toMatchObject({ kind: 'reject', violations: [{ rule: 'pattern' }] });
    // A backtracking engine takes longer than the age of the universe here.
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('planTarget', () => {
  const tracked = (eventType: string, payload: Record<string, unknown>) => ({
    eventName: 'n',
    eventType,
    source: 'tracking' as const,
    payload,
  });

  it("is a tracking message's properties or traits, and a REST event's payload", () => {
    expect(planTarget(tracked('track', { properties: { a: 1 }, traits: {} }))).toEqual({
      value: { a: 1 },
      path: 'payload.properties',
    });
    expect(planTarget(tracked('page', { properties: null }))).toEqual({
      value: {},
      path: 'payload.properties',
    });
    expect(planTarget(tracked('identify', { traits: { t: 1 } }))).toEqual({
      value: { t: 1 },
      path: 'payload.traits',
    });
    expect(planTarget(tracked('group', {}))).toEqual({ value: {}, path: 'payload.traits' });
    expect(planTarget(tracked('alias', { previousId: 'p' }))).toEqual({
      value: { previousId: 'p' },
      path: 'payload',
    });
    // A REST event of type "track" is a REST event.
    expect(planTarget({ ...tracked('track', { properties: 1 }), source: 'api' })).toEqual({
      value: { properties: 1 },
      path: 'payload',
    });
  });
});

describe('withPlainNumbers', () => {
  it('copies only where an exact integer is, keeping __proto__ keys as own properties', () => {
    const untouched = { a: [1, { b: 'x' }] };
    expect(withPlainNumbers(untouched)).toBe(untouched);
    const value = parseExactly('{"__proto__":{"n":99999999999999999999},"k":[1]}') as Record<
      string,
      unknown
    >;
    const plain = withPlainNumbers(value) as Record<string, any>;
    expect(plain).not.toBe(value);
    expect(Object.getPrototypeOf(plain)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(plain, '__proto__')?.value).toEqual({ n: 1e20 });
    expect(plain.k).toBe(value.k);
    expect((value as any)['__proto__'].n).toBeInstanceOf(ExactInteger);
  });
});

describe('compilePlan', () => {
  it('lists every schema that does not compile, by event', () => {
    let error: unknown;
    try {
      compilePlan({
        mode: 'enforce',
        unplanned: 'allow',
        events: { ok: { type: 'string' }, typo: { type: 'object', requird: [] }, bad: { type: 1 } },
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PlanCompileError);
    expect((error as PlanCompileError).issues.map((i) => i.path)).toEqual([
      '$.events.typo',
      '$.events.bad',
    ]);
  });

  it("keeps one plan's $ids apart from another's", () => {
    const events = { a: { $id: 'https://example.com/shared', type: 'string' } };
    expect(() => plan(events)).not.toThrow();
    expect(() => plan(events)).not.toThrow();
  });
});

describe('toRe2Syntax', () => {
  it('spells ECMAScript unicode escapes as RE2 does, leaving escaped backslashes alone', () => {
    expect(toRe2Syntax('^\\u00e9\\u{1F600}$')).toBe('^\\x{00e9}\\x{1F600}$');
    expect(toRe2Syntax('\\\\u00e9')).toBe('\\\\u00e9');
    expect(toRe2Syntax('\\d+\\.')).toBe('\\d+\\.');
  });
});
