import { parseArgs } from 'node:util';
import { parseEnv } from './stack';

const SCENARIOS = ['a', 'b', 'c', 'd', 'e', 'g', 'h', 'i', 'p'];

/** How much work each measurement does: `--quick` for a smoke run, the default for real figures. */
const QUICK = {
  name: 'quick',
  /** Measured rounds per figure, after a warm-up round of half the size. */
  rounds: 3,
  engineWorkflows: 100,
  engineConcurrency: 64,
  /** Events per round at each client concurrency of measurement b. */
  singleEvents: { 1: 10, 16: 48, 64: 128 } as Record<number, number>,
  batchSize: 500,
  batchesPerRound: 2,
  batchConcurrency: 4,
  pgRows: 5_000,
  pgConnections: 4,
  acceptUnloadedRequests: 30,
  acceptLoadedRequests: 128,
  acceptLoadedConcurrency: 64,
  /** Requests of one message (g), of 15 messages (h), and accepted with the worker paused (i). */
  browserRequests: 512,
  nodeRequests: 64,
  acceptAloneRequests: 256,
};

const FULL: typeof QUICK = {
  ...QUICK,
  name: 'full',
  rounds: 5,
  engineWorkflows: 500,
  singleEvents: { 1: 30, 16: 192, 64: 384 },
  batchesPerRound: 10,
  pgRows: 50_000,
  acceptUnloadedRequests: 100,
  acceptLoadedRequests: 384,
  browserRequests: 4000,
  nodeRequests: 500,
  acceptAloneRequests: 1000,
};

const USAGE = `usage: npm run bench [-- options]
  --quick                 few rounds, small counts (smoke run, about 2 min)
  --only a,b,...          run only these measurements (a engine, b single-event, c batch,
                          d PostgreSQL, e accept latency, g browser SDK, h analytics-node,
                          i accept alone, p batch with a 20-schema tracking plan against
                          the same without; f memory is always sampled)
  --clients 1,16,64       client concurrencies of measurement b (each must be 1, 16 or 64)
  --env K=V               extra environment for the API and worker (repeatable)
  --cpu-prof              write CPU profiles of the API and worker next to the results
  --label TEXT            stored in the JSON results`;

/** A command line that cannot be run; the message includes the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(problem: string) {
    super(`${problem}\n${USAGE}`);
  }
}

export function parseOptions(argv: string[] = process.argv.slice(2)) {
  let values;
  let serviceEnv;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string', default: SCENARIOS.join(',') },
        clients: { type: 'string', default: '1,16,64' },
        env: { type: 'string', multiple: true, default: [] },
        'cpu-prof': { type: 'boolean', default: false },
        label: { type: 'string', default: '' },
        help: { type: 'boolean', default: false },
      },
    }));
    serviceEnv = parseEnv(values.env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) throw new UsageError('');
  const only = values.only.split(',').map((s) => s.trim());
  const unknown = only.filter((s) => !SCENARIOS.includes(s));
  if (unknown.length > 0) throw new UsageError(`--only: unknown measurement ${unknown.join(', ')}`);
  const clients = values.clients.split(',').map((s) => Number(s.trim()));
  if (clients.some((c) => ![1, 16, 64].includes(c))) {
    throw new UsageError(`--clients takes some of 1,16,64, got ${values.clients}`);
  }
  return {
    plan: values.quick ? QUICK : FULL,
    /** The others show as "skipped". */
    only: new Set(only),
    singleEventClients: [...new Set(clients)].sort((x, y) => x - y),
    /** Extra environment for the API and worker, e.g. DATABASE_POOL_MAX=20. */
    serviceEnv,
    cpuProfile: values['cpu-prof'],
    /** Stored in the JSON, to tell experiments apart. */
    label: values.label,
  };
}
