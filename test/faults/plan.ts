import { parseArgs } from 'node:util';
import { createRandom } from './random';

/** Every fault the injector knows; see `fault-injector.ts` for what each does. */
export const FAULT_KINDS = [
  'worker-kill',
  'temporal-term',
  'temporal-kill',
  'postgres-restart',
  'postgres-crash',
  'postgres-cut',
  'postgres-stall',
  'api-kill',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** What one run does: how much load, which faults in which order, how long to wait after. */
export interface RunPlan {
  mode: 'full' | 'quick';
  seed: number;
  /** Logical events to send at least (each may be retried, never counted twice). */
  targetEvents: number;
  /** How long load and faults are spread over; load goes on until `targetEvents` are sent. */
  loadSeconds: number;
  /** Concurrent client connections, each sending one request at a time. */
  clients: number;
  faults: FaultKind[];
  /** Fewer injected faults than this fails the run: every planned one must strike. */
  minFaults: number;
  /** Bound on the wait for every accepted event to reach a terminal state. */
  quiescenceSeconds: number;
  /** Service settings that replace the suite's, e.g. to try the suite on a weakened service. */
  envOverrides: Record<string, string>;
  /**
   * API and worker processes: 1 each, or 2 each with `--scale` (load round-robin over the APIs,
   * each kill aimed at one process picked at random).
   */
  processes: { apis: number; workers: number };
}

const FULL_MIX: Record<FaultKind, number> = {
  'worker-kill': 7,
  'temporal-term': 3,
  'temporal-kill': 3,
  'postgres-restart': 2,
  'postgres-crash': 2,
  'postgres-cut': 3,
  'postgres-stall': 3,
  'api-kill': 4,
};
const QUICK_MIX: Record<FaultKind, number> = {
  'worker-kill': 2,
  'temporal-term': 1,
  'temporal-kill': 1,
  'postgres-restart': 1,
  'postgres-crash': 1,
  'postgres-cut': 1,
  'postgres-stall': 1,
  'api-kill': 1,
};

/** The least a full run may inject: fewer would not be a fair trial. */
const FULL_MIN_FAULTS = 20;

/** Thrown for command-line arguments the suite does not understand. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** 0 when the user asked for the usage text, 2 for a mistake. */
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export const USAGE = `usage: npm run test:faults [-- --quick] [--scale] [--seed N] [--events N] [--faults N]
  --quick       about 1,000 events and 9 faults in ~3 minutes, for iteration
  --scale       2 API processes (load round-robin over them) and 2 workers, kills hitting each
  --seed N      replay the same fault order and load shape
  --events N    logical events to send at least (default 5000, quick 1000)
  --faults N    faults to inject (default 27, at least 20; quick 9, 0 for a baseline)
  --env K=V     a service setting instead of the suite's (repeatable), e.g. OUTBOX_INTERVAL_MS=0
                to see the suite catch events that never get a workflow`;

/** Reads the command line into a plan. */
export function planFromArgs(argv: string[]): RunPlan {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scale: { type: 'boolean', default: false },
      seed: { type: 'string' },
      events: { type: 'string' },
      faults: { type: 'string' },
      env: { type: 'string', multiple: true },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) throw new UsageError(USAGE, 0);
  const quick = values.quick ?? false;
  const seed = count(values.seed, 'seed', 0) ?? Math.floor(Math.random() * 2 ** 31);
  const mix = quick ? QUICK_MIX : FULL_MIX;
  const defaultFaults = Object.values(mix).reduce((a, b) => a + b, 0);
  const faultCount = count(values.faults, 'faults', 0) ?? defaultFaults;
  if (!quick && faultCount < FULL_MIN_FAULTS) {
    throw new UsageError(
      `a full run injects at least ${FULL_MIN_FAULTS} faults; add --quick for fewer\n${USAGE}`,
    );
  }
  const faults = scheduleFaults(mix, faultCount, seed);
  return {
    mode: quick ? 'quick' : 'full',
    seed,
    targetEvents: count(values.events, 'events', 1) ?? (quick ? 1000 : 5000),
    loadSeconds: quick ? 75 : 300,
    clients: 8,
    faults,
    minFaults: faults.length,
    quiescenceSeconds: quick ? 90 : 150,
    envOverrides: Object.fromEntries((values.env ?? []).map(envPair)),
    processes: values.scale ? { apis: 2, workers: 2 } : { apis: 1, workers: 1 },
  };
}

/** The mix scaled to `count` faults, every kind at least once when count allows, shuffled. */
function scheduleFaults(mix: Record<FaultKind, number>, count: number, seed: number): FaultKind[] {
  const total = Object.values(mix).reduce((a, b) => a + b, 0);
  const kinds: FaultKind[] = [];
  for (const kind of FAULT_KINDS) {
    const n = Math.max(1, Math.round((mix[kind] * count) / total));
    for (let i = 0; i < n; i++) kinds.push(kind);
  }
  const random = createRandom(seed ^ 0x5eed);
  return random.shuffle(kinds).slice(0, count);
}

function envPair(assignment: string): [string, string] {
  const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(assignment);
  if (!match) throw new UsageError(`--env takes NAME=value, got ${JSON.stringify(assignment)}`);
  return [match[1]!, match[2]!];
}

function count(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer of at least ${min}`);
  }
  return n;
}
