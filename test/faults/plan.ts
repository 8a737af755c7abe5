import { parseArgs } from 'node:util';
import { createRandom } from './support';

/** How many of each fault a full run and a quick one inject; see `faults.ts` for what each does. */
const MIX = {
  'worker-kill': [7, 2],
  'temporal-term': [3, 1],
  'temporal-kill': [3, 1],
  'postgres-restart': [2, 1],
  'postgres-crash': [2, 1],
  'postgres-cut': [3, 1],
  'postgres-stall': [3, 1],
  'api-kill': [4, 1],
  'queued-terminate': [2, 1],
  'batch-run-lost': [2, 1],
} satisfies Record<string, [full: number, quick: number]>;
export type FaultKind = keyof typeof MIX;
export const FAULT_KINDS = Object.keys(MIX) as FaultKind[];

export const USAGE = `usage: npm run test:faults [-- --quick] [--scale] [--seed N] [--events N]
(see docs/test-suites.md, "Fault suite")`;

export type RunPlan = ReturnType<typeof planFromArgs>;

export function planFromArgs(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scale: { type: 'boolean', default: false },
      seed: { type: 'string' },
      events: { type: 'string' },
    },
  });
  const quick = values.quick;
  const seed = integer(values.seed, 'seed', 0) ?? Math.floor(Math.random() * 2 ** 31);
  const kinds = FAULT_KINDS.flatMap((kind) =>
    Array<FaultKind>(MIX[kind][quick ? 1 : 0]).fill(kind),
  );
  return {
    mode: quick ? ('quick' as const) : ('full' as const),
    seed,
    /** Logical events to send at least (each may be retried, never counted twice). */
    targetEvents: integer(values.events, 'events', 1) ?? (quick ? 1000 : 5000),
    /** How long load and faults are spread over; load goes on until `targetEvents` are sent. */
    loadSeconds: quick ? 75 : 300,
    clients: 8,
    faults: createRandom(seed ^ 0x5eed).shuffle(kinds),
    /** Bound on the wait for every accepted event to reach a terminal state. */
    quiescenceSeconds: quick ? 90 : 150,
    processes: values.scale ? { apis: 2, workers: 2 } : { apis: 1, workers: 1 },
  };
}

function integer(value: string | undefined, name: string, min: number): number | undefined {
  const n = value === undefined ? undefined : Number(value);
  if (n !== undefined && !(Number.isInteger(n) && n >= min)) {
    throw new TypeError(`--${name} must be an integer ≥ ${min}`);
  }
  return n;
}
