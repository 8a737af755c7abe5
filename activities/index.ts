import { createBatchActivities } from './batch-activities';
import { createProcessingActivities, type ActivityDeps } from './processing-activities';
import { withSafeDatabaseErrors } from './safe-errors';

export type { ActivityDeps } from './processing-activities';
export type { EventOutcomes } from './event-outcomes';

/** Every activity the worker registers, built from its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return withSafeDatabaseErrors(
    { ...createProcessingActivities(deps), ...createBatchActivities(deps) },
    deps.logger,
  );
}

/** What workflows proxy; a type only, so the workflow bundle imports no activity code. */
export type ProcessingActivities = ReturnType<typeof createActivities>;
