// The bundle of the bench's own worker: kept apart from the service's workflows/ on purpose.
export { benchNoopWorkflow } from './noop.workflow';
