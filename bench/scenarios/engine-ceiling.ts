import { setTimeout as delay } from 'node:timers/promises';
import { BenchCheckError, BenchTimeoutError } from '../errors';
import { nowMs } from '../stats';
import { benchNoopWorkflow } from '../workflows';
import type { ScenarioContext } from './context';

/** One round of measurement a. */
export interface EngineRound {
  workflows: number;
  concurrency: number;
  /** Workflows started and completed per second, first start to last close. */
  workflowsPerSec: number;
}

const POLL_INTERVAL_MS = 200;

/**
 * Measurement a, the engine ceiling: `engineWorkflows` trivial workflows started by
 * `engineConcurrency` clients through the same kind of client as the API's, run by a worker
 * process with the service's settings. The end is the last close time Temporal recorded; every
 * workflow must be listed as completed.
 */
export async function engineRound(ctx: ScenarioContext, tag: string): Promise<EngineRound> {
  const { stack, plan } = ctx;
  const n = ctx.size(plan.engineWorkflows);
  const prefix = `bench-noop-${stack.runId}-${tag}-`;
  const startedAt = nowMs();
  let next = 0;
  let started = 0;
  const starter = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      await stack.temporal.workflow.start(benchNoopWorkflow, {
        workflowId: `${prefix}${i}`,
        taskQueue: stack.engineTaskQueue,
        args: [i],
      });
      started++;
    }
  };
  const starting = Promise.all(Array.from({ length: plan.engineConcurrency }, starter));
  await Promise.race([starting, stack.failure]);

  const query = `WorkflowId STARTS_WITH "${prefix}"`;
  const deadline = Date.now() + 60_000 + n * 20;
  for (;;) {
    const { count } = await stack.temporal.workflow.count(
      `${query} AND ExecutionStatus = "Completed"`,
    );
    ctx.progress(0.5 + (0.5 * count) / n, `${started} started, ${count}/${n} completed`);
    if (count >= n) break;
    if (Date.now() > deadline) {
      throw new BenchTimeoutError(`only ${count} of ${n} trivial workflows completed in time`);
    }
    await Promise.race([delay(POLL_INTERVAL_MS), stack.failure]);
  }

  const ids = new Set<string>();
  let lastClose = 0;
  for await (const wf of stack.temporal.workflow.list({ query })) {
    if (wf.status.name !== 'COMPLETED') {
      throw new BenchCheckError(`trivial workflow ${wf.workflowId} is ${wf.status.name}`);
    }
    ids.add(wf.workflowId);
    lastClose = Math.max(lastClose, wf.closeTime?.getTime() ?? Number.NaN);
  }
  if (ids.size !== n)
    throw new BenchCheckError(`${ids.size} trivial workflows listed, ${n} started`);
  // The workflow echoes its input: a sample proves the worker really ran it.
  for (const i of [0, Math.floor(n / 2), n - 1]) {
    const result = await stack.temporal.workflow.getHandle(`${prefix}${i}`).result();
    if (result !== i) throw new BenchCheckError(`trivial workflow ${i} returned ${String(result)}`);
  }
  return {
    workflows: n,
    concurrency: plan.engineConcurrency,
    workflowsPerSec: (n * 1000) / (lastClose - startedAt),
  };
}
