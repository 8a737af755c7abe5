import { proxyLocalActivities } from '@temporalio/workflow';
import type { benchActivities } from '../activities';

// The bench's own bundle, apart from the service's workflows/.

/** No activity, no timer, one task: what the engine costs a workflow at the least. */
export async function benchNoopWorkflow(input: number): Promise<number> {
  return input;
}

const { noopStep } = proxyLocalActivities<typeof benchActivities>({
  startToCloseTimeout: '30 seconds',
});

/**
 * The event chain with nothing in it: four local activities that do nothing, in one workflow
 * task, as the service's four steps run. What the engine costs an event at the least.
 */
export async function benchFourStepWorkflow(input: number): Promise<number> {
  for (const step of ['fetch', 'validate', 'normalize', 'persist']) await noopStep(step);
  return input;
}
