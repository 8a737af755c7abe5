import { setTimeout as delay } from 'node:timers/promises';
import type { Stack } from '../stack';
import { benchFourStepWorkflow, benchNoopWorkflow } from '../workflows/noop.workflow';
import { CheckError, nowMs, type Progress } from './events';

/**
 * Measurement a, what the engine alone does on this machine: trivial workflows started through
 * the same kind of client as the API's, run by a worker process with the service's settings;
 * with `fourSteps`, each calls four local activities that do nothing (the event chain's floor).
 */
export async function engineRound(
  stack: Stack,
  n: number,
  concurrency: number,
  progress: Progress,
  fourSteps = false,
) {
  const workflow = fourSteps ? benchFourStepWorkflow : benchNoopWorkflow;
  const prefix = `bench-${fourSteps ? 'four-step' : 'noop'}-${stack.runId}-${Date.now()}-`;
  const startedAt = nowMs();
  let next = 0;
  let started = 0;
  const starter = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      await stack.temporal.workflow.start(workflow, {
        workflowId: `${prefix}${i}`,
        taskQueue: stack.engineTaskQueue,
        args: [i],
      });
      started++;
    }
  };
  await Promise.race([Promise.all(Array.from({ length: concurrency }, starter)), stack.failure]);

  const query = `WorkflowId STARTS_WITH "${prefix}"`;
  const deadline = Date.now() + 60_000 + n * 20;
  for (;;) {
    const { count } = await stack.temporal.workflow.count(
      `${query} AND ExecutionStatus = "Completed"`,
    );
    progress(0.5 + (0.5 * count) / n, `${started} started, ${count}/${n} completed`);
    if (count >= n) break;
    if (Date.now() > deadline) {
      throw new CheckError(`only ${count} of ${n} trivial workflows completed in time`);
    }
    await Promise.race([delay(200), stack.failure]);
  }

  const ids = new Set<string>();
  let lastClose = 0;
  for await (const wf of stack.temporal.workflow.list({ query })) {
    if (wf.status.name !== 'COMPLETED') {
      throw new CheckError(`trivial workflow ${wf.workflowId} is ${wf.status.name}`);
    }
    ids.add(wf.workflowId);
    lastClose = Math.max(lastClose, wf.closeTime?.getTime() ?? Number.NaN);
  }
  if (ids.size !== n) throw new CheckError(`${ids.size} trivial workflows listed, ${n} started`);
  // The workflow echoes its input: a sample proves the worker really ran it.
  for (const i of [0, Math.floor(n / 2), n - 1]) {
    const result = await stack.temporal.workflow.getHandle(`${prefix}${i}`).result();
    if (result !== i) throw new CheckError(`trivial workflow ${i} returned ${String(result)}`);
  }
  // Started and completed per second, first start to last close.
  return { workflows: n, concurrency, workflowsPerSec: (n * 1000) / (lastClose - startedAt) };
}
