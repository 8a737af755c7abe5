import type { MachineInfo } from './machine';
import type { ProcessUsage } from './process-sampler';
import type { EngineRound } from './scenarios/engine-ceiling';
import type { BatchRound } from './scenarios/batch';
import type { PostgresRound } from './scenarios/postgres-ceiling';
import type { SingleEventRound } from './scenarios/single-event';
import { median } from './stats';

/** Every round of a figure, and the medians over them. */
export interface Measured<R> {
  rounds: R[];
  median: { [K in keyof R]: number };
}

/** What one run found; written as JSON to bench/results. */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  label: string;
  plan: string;
  machine: MachineInfo;
  setup: {
    temporalDb: 'memory' | 'file';
    sqlitePragmas: Record<string, string>;
    nodeFlags: string[];
    /** Environment of the API and worker, without connection URLs. */
    serviceEnv: Record<string, string>;
    payloadBytes: number;
  };
  a?: Measured<EngineRound>;
  /** By client concurrency. */
  b?: Record<string, Measured<SingleEventRound>>;
  c?: Measured<BatchRound> | { unavailable: string };
  d?: Measured<PostgresRound>;
  e?: { unloaded: Measured<SingleEventRound>; loaded: Measured<SingleEventRound> };
  /** Memory and CPU of the API, the worker(s) and the Temporal dev server, by phase. */
  f: Record<string, ProcessUsage>;
  /** Events (or workflows) each phase processed, warm-up included, to divide CPU time by. */
  workByPhase: Record<string, number>;
  ratios: { bOverA?: number; cOverD?: number };
  targets: TargetResult[];
  /** A failed check voids the run: the figures above cannot be trusted. */
  checkFailures: string[];
}

/** One target of the brief, evaluated. */
export interface TargetResult {
  name: string;
  target: string;
  value: string;
  /** undefined when the figure was not measured (n/a). */
  pass: boolean | undefined;
}

/** Median of each numeric field over the rounds. */
export function measured<R extends object>(rounds: R[]): Measured<R> {
  const medians = {} as { [K in keyof R]: number };
  const first = rounds[0];
  if (first) {
    for (const key of Object.keys(first) as (keyof R)[]) {
      medians[key] = median(rounds.map((r) => Number(r[key])));
    }
  }
  return { rounds, median: medians };
}
