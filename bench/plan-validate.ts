/**
 * `npm run bench:plan-validate`: what the tracking plan costs the batch activity per event, in
 * isolation (no database, no Temporal): the chunk's work on each row (parsing the payload text,
 * the payload rules, normalization, serializing the outcome) with and without the 20-schema plan
 * of measurement p, and how long compiling that plan takes. Single-threaded, a few seconds.
 */
import { performance } from 'node:perf_hooks';
import { buildProperties } from '../activities/payload-normalization';
import { validatePayloadShape, validateRequiredFields } from '../activities/payload-rules';
import { checkAgainstPlan } from '../activities/plan-rules';
import { parseExactly, stringifyExactly } from '../src/json/exact-json';
import { compilePlan } from '../src/tracking-plans/compile-plan';
import type { PlanDefinition } from '../src/tracking-plans/plan-definition';
import { eventInput } from './scenarios/events';
import { benchTrackingPlan } from './scenarios/tracking-plan';

const CHUNK = 500;
const ROUNDS = 200;

function compileMs(): number {
  const started = performance.now();
  compilePlan(benchTrackingPlan() as PlanDefinition);
  return performance.now() - started;
}

const rows = Array.from({ length: CHUNK }, (_, i) => {
  const e = eventInput(i);
  return { name: e.event_name, type: e.event_type, text: JSON.stringify(e.payload) };
});
const plan = compilePlan(benchTrackingPlan() as PlanDefinition);

/** One chunk as normalizeBatchChunk works it, with or without the plan; µs per event. */
function chunkMicros(withPlan: boolean): number {
  const started = performance.now();
  const results = [];
  const normalizedAt = new Date();
  for (const row of rows) {
    validateRequiredFields({ eventName: row.name, eventType: row.type });
    const payload = validatePayloadShape(parseExactly(row.text));
    if (withPlan) {
      const verdict = checkAgainstPlan(plan, 1, {
        eventName: row.name,
        eventType: row.type,
        source: 'api',
        payload,
      });
      if (verdict.kind !== 'pass') throw new Error(`unexpected ${verdict.kind}`);
    }
    results.push({ properties: buildProperties(payload, { userId: 'u', normalizedAt }) });
  }
  stringifyExactly(results);
  return ((performance.now() - started) * 1000) / CHUNK;
}

/** The plan check alone; µs per event. */
function checkMicros(): number {
  const payloads = rows.map((r) => validatePayloadShape(parseExactly(r.text)));
  const started = performance.now();
  for (const [i, payload] of payloads.entries()) {
    checkAgainstPlan(plan, 1, { eventName: rows[i]!.name, eventType: 'x', source: 'api', payload });
  }
  return ((performance.now() - started) * 1000) / CHUNK;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const firstCompile = compileMs();
const compiles = Array.from({ length: 10 }, compileMs);
// Warm-up, then rounds in turns so that drift hits both alike.
for (let i = 0; i < 20; i++) chunkMicros(i % 2 === 0);
const without: number[] = [];
const withPlan: number[] = [];
const check: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  without.push(chunkMicros(false));
  withPlan.push(chunkMicros(true));
  check.push(checkMicros());
}
console.log(
  JSON.stringify(
    {
      events_per_chunk: CHUNK,
      rounds: ROUNDS,
      compile_ms: { first: firstCompile, median_after: median(compiles) },
      chunk_work_us_per_event: { without_plan: median(without), with_plan: median(withPlan) },
      plan_check_us_per_event: median(check),
    },
    (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v),
    2,
  ),
);
