// The bench's own bundle, apart from the service's workflows/: no activity, no timer, one task.
export async function benchNoopWorkflow(input: number): Promise<number> {
  return input;
}
