// The entry point Temporal bundles: every workflow the worker runs is exported here.
export { processEventWorkflow } from './process-event.workflow';
export { processEventBatchWorkflow } from './process-event-batch.workflow';
