import type { Plan } from '../options';
import type { Stack } from '../stack';

/** What every measurement gets: the running stack, the plan, and a way to report progress. */
export interface ScenarioContext {
  stack: Stack;
  plan: Plan;
  /** The uncounted first round: it runs half the work, enough to warm the JIT and the pools. */
  warmUp: boolean;
  /** How many of `n` (events, batches, workflows, rows) this round sends. */
  size(n: number): number;
  /** Progress within the current round, 0..1, with a short detail. */
  progress(fraction: number, detail: string): void;
}

/** Generous: a slow shared machine must not fail a run that is merely slow. */
export const processingTimeoutMs = (events: number): number => 60_000 + events * 50;
