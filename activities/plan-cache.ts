import type { Sql } from '../src/db/sql';
import { compilePlan, type CompiledPlan } from '../src/tracking-plans/compile-plan';
import type { PlanDefinition } from '../src/tracking-plans/plan-definition';

/** Compiled tracking plans by (user, version); see `createPlanCache`. */
export interface PlanCache {
  get(userId: string, version: number): Promise<CompiledPlan>;
}

/**
 * Compiled plans a worker keeps: 64 is far more than the users whose events one worker has in
 * hand at once, and each compiled plan is a few hundred KB of generated code at most.
 */
export const DEFAULT_CACHED_PLANS = 64;

/**
 * Reads plan versions from PostgreSQL and compiles each once per worker. Versions are immutable,
 * so an entry never goes stale; the least recently used one goes when `max` are held. A
 * version asked for twice at once is read and compiled once. Nothing of a plan crosses workflow
 * history: activities get it here, by the user and the version recorded on the event.
 */
export function createPlanCache(sql: Sql, max = DEFAULT_CACHED_PLANS): PlanCache {
  const plans = new Map<string, Promise<CompiledPlan>>();
  return {
    get(userId, version) {
      const key = `${userId}:${version}`;
      const held = plans.get(key);
      if (held) {
        // Most recently used last: Map keeps insertion order.
        plans.delete(key);
        plans.set(key, held);
        return held;
      }
      const loading = load(sql, userId, version);
      plans.set(key, loading);
      // A failed read is not kept: the next event tries again.
      void loading.catch(() => {
        if (plans.get(key) === loading) plans.delete(key);
      });
      while (plans.size > max) plans.delete(plans.keys().next().value!);
      return loading;
    },
  };
}

async function load(sql: Sql, userId: string, version: number): Promise<CompiledPlan> {
  const [row] = await sql<Omit<PlanDefinition, 'events'> & { events: string }>(
    `select mode, unplanned, events::text as events from tracking_plan_versions
      where user_id = $1 and version = $2`,
    [userId, version],
  );
  // Versions are never deleted; a missing one is a database restored without it.
  if (!row) throw new Error(`tracking plan version ${version} of user ${userId} does not exist`);
  // A plan that is off checks nothing: its schemas were compiled when it was PUT, not needed here.
  if (row.mode === 'off') return { ...row, validatorFor: () => undefined };
  return compilePlan({ ...row, events: JSON.parse(row.events) as PlanDefinition['events'] });
}
