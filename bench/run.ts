/**
 * `npm run bench` (`npm run bench:quick` for a short smoke run): measures the service as it runs
 * in production, with the API and the worker as separate processes, a Temporal dev server and
 * PostgreSQL, and prints one table. See `bench/options.ts` for the command line.
 *
 * Exit code: 0 when every check passed (and, with --strict, every target was met), 1 when a check
 * failed (a figure cannot be trusted), 2 for a bad command line.
 */
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureTemporalCli } from '../src/dev/temporal-cli';
import { BenchCheckError, BenchTimeoutError } from './errors';
import { describeMachine } from './machine';
import { ProcessSampler } from './process-sampler';
import { parseOptions, UsageError, type BenchOptions, type Scenario } from './options';
import { PAYLOAD_BYTES } from './payloads';
import { ProgressBar } from './progress';
import { evaluateTargets, formatTable } from './report';
import { measured, type BenchResults } from './results';
import { batchRound, probeBatchEndpoint } from './scenarios/batch';
import type { ScenarioContext } from './scenarios/context';
import { engineRound } from './scenarios/engine-ceiling';
import { postgresRound, preparePostgresCeiling } from './scenarios/postgres-ceiling';
import { singleEventRound } from './scenarios/single-event';
import { startStack, type Stack } from './stack';

const RESULTS_DIR = path.join(__dirname, 'results');

async function main(): Promise<number> {
  const opts = parseOptions();
  const plan = opts.plan;
  const runs = (s: Scenario): boolean => opts.only.has(s);
  const progress = new ProgressBar(estimateWeight(opts));
  const startedAt = new Date();

  progress.begin('starting Temporal, PostgreSQL, API and worker', 25);
  const temporalCli = await ensureTemporalCli((m) => progress.note(m));
  const stack = await startStack(opts, runs('a'), (m) => progress.note(m));
  // Ctrl+C (or a CI timeout) must not leave the dev server and the service running.
  const onSignal = (signal: NodeJS.Signals): void => {
    progress.note(`${signal}: stopping everything the bench started`);
    void stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const sampler = new ProcessSampler({
    ...Object.fromEntries(stack.children.map((c) => [c.name, c.pid])),
    'temporal dev server': stack.temporalPid,
  });
  const { rows: pgVersion } = await stack.pg.query<{ v: string }>(
    `select current_setting('server_version') as v`,
  );
  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    label: opts.label,
    plan: plan.name,
    machine: await describeMachine(temporalCli, pgVersion[0]!.v),
    setup: {
      temporalDb: opts.temporalDb,
      sqlitePragmas: opts.sqlitePragmas,
      nodeFlags: opts.nodeFlags,
      serviceEnv: opts.serviceEnv,
      payloadBytes: PAYLOAD_BYTES,
    },
    f: {},
    workByPhase: {},
    ratios: {},
    targets: [],
    checkFailures: [],
  };

  /** Runs a warm-up round and `plan.rounds` measured ones; a failed check voids the figure. */
  const repeat = async <R extends object>(
    label: string,
    phase: string,
    weight: number,
    round: (ctx: ScenarioContext) => Promise<R>,
    units?: (r: R) => number,
  ): Promise<R[] | undefined> => {
    progress.begin(label, weight);
    sampler.setPhase(phase);
    const total = plan.rounds + 1;
    const out: R[] = [];
    try {
      for (let i = 0; i < total; i++) {
        const tag = i === 0 ? 'warm-up' : `round ${i}/${plan.rounds}`;
        const ctx: ScenarioContext = {
          stack,
          plan,
          warmUp: i === 0,
          size: (n) => (i === 0 ? Math.ceil(n / 2) : n),
          progress: (fraction, detail) =>
            progress.update((i + fraction) / total, `${tag}: ${detail}`),
        };
        const r = await round(ctx);
        if (units) results.workByPhase[phase] = (results.workByPhase[phase] ?? 0) + units(r);
        if (i > 0) out.push(r);
      }
      progress.note(
        `${label}: ${JSON.stringify(measured(out).median, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v))}`,
      );
      return out;
    } catch (err) {
      if (!(err instanceof BenchCheckError || err instanceof BenchTimeoutError)) throw err;
      results.checkFailures.push(`${label}: ${err.message}`);
      progress.note(`CHECK FAILED in ${label}: ${err.message}`);
      return undefined;
    }
  };

  let exitCode = 0;
  try {
    if (runs('d')) {
      await preparePostgresCeiling(stack.pg);
      const user = await stack.newUser();
      const d = await repeat('d: PostgreSQL ceiling', 'd', weightOf(opts, 'd'), (ctx) =>
        postgresRound(ctx, user.id),
      );
      if (d) results.d = measured(d);
    }
    if (runs('a')) {
      const a = await repeat(
        'a: engine ceiling',
        'a',
        weightOf(opts, 'a'),
        (ctx) => engineRound(ctx, `${Date.now()}`),
        (r) => r.workflows,
      );
      if (a) results.a = measured(a);
    }
    if (runs('e')) {
      const unloaded = await repeat(
        'e: accept latency, 1 client',
        'e1',
        weightOf(opts, 'e') / 3,
        (ctx) => singleEventRound(ctx, 1, plan.acceptUnloadedRequests),
        (r) => r.events,
      );
      if (unloaded) results.e = { unloaded: measured(unloaded), loaded: measured([]) };
    }
    if (runs('b')) {
      results.b = {};
      for (const conc of opts.singleEventClients) {
        const b = await repeat(
          `b: single event, ${conc} client${conc === 1 ? '' : 's'}`,
          `b${conc}`,
          weightOf(opts, 'b') * (plan.singleEvents[conc]! / totalSingleEvents(opts)),
          (ctx) => singleEventRound(ctx, conc, plan.singleEvents[conc]!),
          (r) => r.events,
        );
        if (b) results.b[String(conc)] = measured(b);
      }
    }
    if (runs('e')) {
      const loaded = await repeat(
        `e: accept latency, ${plan.acceptLoadedConcurrency} clients`,
        `e${plan.acceptLoadedConcurrency}`,
        (weightOf(opts, 'e') * 2) / 3,
        (ctx) => singleEventRound(ctx, plan.acceptLoadedConcurrency, plan.acceptLoadedRequests),
        (r) => r.events,
      );
      if (loaded && results.e) results.e.loaded = measured(loaded);
      else if (results.e) delete results.e;
    }
    if (runs('c')) {
      const probeUser = await stack.newUser();
      const probe = await probeBatchEndpoint(stack.apiOrigin, probeUser.token);
      if (!probe.present) {
        results.c = { unavailable: `POST /api/v1/events/batch answered ${probe.status}` };
        progress.note(`c: the batch endpoint is not there yet (${probe.status}); reporting n/a`);
      } else {
        const c = await repeat(
          'c: batch',
          'c',
          weightOf(opts, 'c'),
          batchRound,
          (r) => r.batches * r.batchSize,
        );
        if (c) results.c = measured(c);
      }
    }
  } finally {
    progress.begin('stopping', 2);
    results.f = sampler.stop();
    await stack.stop();
    if (opts.cpuProfile) await keepProfiles(stack, startedAt, (m) => progress.note(m));
  }

  const b64 = results.b?.['64']?.median.eventsPerSec;
  const a = results.a?.median.workflowsPerSec;
  const c = results.c && 'median' in results.c ? results.c.median.eventsPerSec : undefined;
  const d = results.d?.median.rowsPerSec;
  if (b64 !== undefined && a !== undefined) results.ratios.bOverA = b64 / a;
  if (c !== undefined && d !== undefined) results.ratios.cOverD = c / d;
  results.targets = evaluateTargets(results);
  results.finishedAt = new Date().toISOString();
  progress.finish();

  const file = await writeResults(results, startedAt);
  console.log(formatTable(results));
  console.log(`\nResults: ${path.relative(process.cwd(), file)} (and bench/results/latest.json)`);
  if (results.checkFailures.length > 0) {
    console.log(`Service logs of this run: ${stack.dir}`);
    exitCode = 1;
  } else {
    // Logs (and the dev server's state file) are only worth keeping when something failed.
    await rm(stack.dir, { recursive: true, force: true });
  }
  if (exitCode === 0 && opts.strict && results.targets.some((t) => t.pass === false)) {
    exitCode = 1;
  }
  return exitCode;
}

/** Rough seconds each measurement takes, so the progress bar moves evenly. */
function weightOf(opts: BenchOptions, s: Scenario): number {
  const p = opts.plan;
  const rounds = p.rounds + 0.5;
  switch (s) {
    case 'a':
      return (rounds * p.engineWorkflows) / 30;
    case 'b':
      return (rounds * totalSingleEvents(opts)) / 25;
    case 'c':
      return (rounds * p.batchesPerRound * p.batchSize) / 1500;
    case 'd':
      return (rounds * p.pgRows) / 15_000;
    case 'e':
      return (rounds * (p.acceptUnloadedRequests + p.acceptLoadedRequests)) / 25;
  }
}

function totalSingleEvents(opts: BenchOptions): number {
  return opts.singleEventClients.reduce((sum, c) => sum + opts.plan.singleEvents[c]!, 0);
}

function estimateWeight(opts: BenchOptions): number {
  return 27 + [...opts.only].reduce((sum, s) => sum + weightOf(opts, s), 0);
}

async function writeResults(results: BenchResults, startedAt: Date): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const file = path.join(RESULTS_DIR, `${stamp}.json`);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  await writeFile(file, json);
  await writeFile(path.join(RESULTS_DIR, 'latest.json'), json);
  return file;
}

async function keepProfiles(
  stack: Stack,
  startedAt: Date,
  log: (m: string) => void,
): Promise<void> {
  const from = path.join(stack.dir, 'profiles');
  const files = await readdir(from).catch(() => []);
  if (files.length === 0) return log('no CPU profiles were written');
  const to = path.join(RESULTS_DIR, `profiles-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
  await mkdir(to, { recursive: true });
  const names = new Map(stack.children.map((c) => [String(c.pid), c.name.replace(/\s+/g, '-')]));
  for (const file of files) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: name it after the process it profiles.
    const pid = file.split('.')[3] ?? '';
    await cp(path.join(from, file), path.join(to, `${names.get(pid) ?? 'unknown'}-${file}`));
  }
  log(`CPU profiles of the API and worker: ${path.relative(process.cwd(), to)}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write('\n');
    if (err instanceof UsageError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  },
);
