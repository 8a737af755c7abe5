import { createSql } from '../src/db/sql';
import { createBatchActivities } from './batch-activities';
import { createPlanCache } from './plan-cache';
import { createProcessingActivities, type ActivityDeps } from './processing-activities';
import { withSafeDatabaseErrors } from './safe-errors';

export type { ActivityDeps } from './processing-activities';
export type { EventOutcomes, ViolationOutcome } from './event-outcomes';

/** Every activity the worker registers, built from its dependencies. */
export function createActivities(deps: ActivityDeps) {
  // One cache of compiled tracking plans for both chains: each version is compiled once.
  const withPlans = { ...deps, plans: deps.plans ?? createPlanCache(createSql(deps.orm)) };
  return withSafeDatabaseErrors(
    { ...createProcessingActivities(withPlans), ...createBatchActivities(withPlans) },
    deps.logger,
  );
}

/** What workflows proxy; a type only, so the workflow bundle imports no activity code. */
export type ProcessingActivities = ReturnType<typeof createActivities>;
