/**
 * The cheapest workflow there is: no activity, no timer, one workflow task. Started and completed
 * through the same client, server and worker settings as the service's, it measures what the
 * engine alone can do on this machine (measurement a).
 */
export async function benchNoopWorkflow(input: number): Promise<number> {
  return input;
}
