import { parseArgs } from 'node:util';

/** The measurements, by their letter in the report. */
export const SCENARIOS = ['a', 'b', 'c', 'd', 'e'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** How much work each measurement does: `--quick` for CI smoke, the default for real figures. */
export interface Plan {
  name: 'quick' | 'full';
  /** Measured rounds per figure (a warm-up round of half the size comes first, not counted). */
  rounds: number;
  engineWorkflows: number;
  engineConcurrency: number;
  /** Events per round at each client concurrency of the single-event path. */
  singleEvents: Record<number, number>;
  batchSize: number;
  batchesPerRound: number;
  batchConcurrency: number;
  pgRows: number;
  pgConnections: number;
  acceptUnloadedRequests: number;
  acceptLoadedRequests: number;
  acceptLoadedConcurrency: number;
}

const QUICK: Plan = {
  name: 'quick',
  rounds: 3,
  engineWorkflows: 100,
  engineConcurrency: 64,
  singleEvents: { 1: 10, 16: 48, 64: 128 },
  batchSize: 500,
  batchesPerRound: 2,
  batchConcurrency: 4,
  pgRows: 5_000,
  pgConnections: 4,
  acceptUnloadedRequests: 30,
  acceptLoadedRequests: 128,
  acceptLoadedConcurrency: 64,
};

const FULL: Plan = {
  name: 'full',
  rounds: 5,
  engineWorkflows: 500,
  engineConcurrency: 64,
  singleEvents: { 1: 30, 16: 192, 64: 384 },
  batchSize: 500,
  batchesPerRound: 10,
  batchConcurrency: 4,
  pgRows: 50_000,
  pgConnections: 4,
  acceptUnloadedRequests: 100,
  acceptLoadedRequests: 384,
  acceptLoadedConcurrency: 64,
};

/** Everything the command line can set. */
export interface BenchOptions {
  plan: Plan;
  /** Which measurements to run; the others show as "skipped". */
  only: ReadonlySet<Scenario>;
  /** Client concurrencies of measurement b (1, 16 and 64 unless narrowed for an experiment). */
  singleEventClients: number[];
  /** Where the dev server keeps its state: a SQLite file in a temp dir, or memory. */
  temporalDb: 'memory' | 'file';
  sqlitePragmas: Record<string, string>;
  /** Extra environment for the API and worker processes, e.g. DATABASE_POOL_MAX=20. */
  serviceEnv: Record<string, string>;
  /** Extra Node flags for the API and worker processes, e.g. --max-semi-space-size=32. */
  nodeFlags: string[];
  /** Write CPU profiles of the API and the worker (node --cpu-prof) next to the results. */
  cpuProfile: boolean;
  databaseAdminUrl: string;
  databaseName: string;
  keepDatabase: boolean;
  /** Exit non-zero when a target is missed, not only when a check fails. */
  strict: boolean;
  /** A free-form name stored in the JSON, to tell experiments apart. */
  label: string;
}

const USAGE = `usage: npm run bench [-- options]
  --quick                 few rounds, small counts (CI smoke, about 2 min)
  --only a,b,...          run only these measurements (a engine, b single-event, c batch,
                          d PostgreSQL, e accept latency; f memory is always sampled)
  --clients 1,16,64       client concurrencies of measurement b (each must be 1, 16 or 64)
  --temporal-db memory|file   dev server state in memory (default) or a SQLite file in a temp dir
  --sqlite-pragma K=V     passed to the dev server (repeatable), e.g. journal_mode=wal
  --env K=V               extra environment for the API and worker (repeatable)
  --node-flag FLAG        extra Node flag for the API and worker (repeatable)
  --cpu-prof              write CPU profiles of the API and worker next to the results
  --database-admin-url U  PostgreSQL to create the bench database in
                          (default postgres://postgres@127.0.0.1:5432/postgres)
  --database-name NAME    the bench database, dropped and created afresh (default ei_bench)
  --keep-db               do not drop the bench database at the end
  --strict                exit 1 when a target is missed (checks always decide the exit code)
  --label TEXT            stored in the JSON results`;

/** Thrown for a command line that cannot be run; the message includes the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(problem: string) {
    super(`${problem}\n${USAGE}`);
  }
}

/** Reads the command line (`process.argv.slice(2)` unless given). */
export function parseOptions(argv: string[] = process.argv.slice(2)): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        clients: { type: 'string', default: '1,16,64' },
        'temporal-db': { type: 'string', default: 'memory' },
        'sqlite-pragma': { type: 'string', multiple: true, default: [] },
        env: { type: 'string', multiple: true, default: [] },
        'node-flag': { type: 'string', multiple: true, default: [] },
        'cpu-prof': { type: 'boolean', default: false },
        'database-admin-url': {
          type: 'string',
          default: 'postgres://postgres@127.0.0.1:5432/postgres',
        },
        'database-name': { type: 'string', default: 'ei_bench' },
        'keep-db': { type: 'boolean', default: false },
        strict: { type: 'boolean', default: false },
        label: { type: 'string', default: '' },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) throw new UsageError('');
  const temporalDb = v['temporal-db'];
  if (temporalDb !== 'memory' && temporalDb !== 'file') {
    throw new UsageError(`--temporal-db must be memory or file, got ${temporalDb}`);
  }
  if (!/^[a-z_][a-z0-9_]*$/.test(v['database-name'])) {
    throw new UsageError('--database-name must be a plain lower-case identifier');
  }
  return {
    plan: v.quick ? QUICK : FULL,
    only: parseOnly(v.only),
    singleEventClients: parseClients(v.clients),
    temporalDb,
    sqlitePragmas: pairs(v['sqlite-pragma'], '--sqlite-pragma'),
    serviceEnv: pairs(v.env, '--env'),
    nodeFlags: v['node-flag'],
    cpuProfile: v['cpu-prof'],
    databaseAdminUrl: v['database-admin-url'],
    databaseName: v['database-name'],
    keepDatabase: v['keep-db'],
    strict: v.strict,
    label: v.label,
  };
}

function parseOnly(value: string | undefined): Set<Scenario> {
  if (value === undefined) return new Set(SCENARIOS);
  const chosen = value.split(',').map((s) => s.trim());
  const unknown = chosen.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new UsageError(`--only: unknown measurement ${unknown.join(', ')}`);
  return new Set(chosen as Scenario[]);
}

function parseClients(value: string): number[] {
  const clients = value.split(',').map((s) => Number(s.trim()));
  if (clients.length === 0 || clients.some((c) => ![1, 16, 64].includes(c))) {
    throw new UsageError(`--clients takes some of 1,16,64, got ${value}`);
  }
  return [...new Set(clients)].sort((x, y) => x - y);
}

function pairs(items: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} takes KEY=VALUE, got ${item}`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
