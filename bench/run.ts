/**
 * `npm run bench` (`npm run bench:quick` for a smoke run): measures the service as it runs in
 * production and prints one table; `--help` lists the options. Exits 1 when a check failed (a
 * figure cannot be trusted), 2 for a bad command line.
 */
import { cp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseOptions, UsageError } from './options';
import { ProcessSampler } from './process-sampler';
import { ProgressBar } from './progress';
import {
  describeMachine,
  evaluateTargets,
  formatTable,
  measured,
  type BenchResults,
} from './report';
import { engineRound } from './scenarios/engine-ceiling';
import { acceptRound } from './scenarios/accept';
import { CheckError, PAYLOAD_BYTES, eventRound, type Progress } from './scenarios/events';
import { postgresRound } from './scenarios/postgres-ceiling';
import { trackingRound } from './scenarios/tracking';
import { benchTrackingPlan } from './scenarios/tracking-plan';
import { startStack, type Stack } from './stack';

const RESULTS_DIR = path.join(__dirname, 'results');

/** A phase of the run: its first letter is the measurement's. */
interface Step {
  phase: string;
  label: string;
  /** Rough seconds a measured round takes, so the progress bar moves evenly. */
  seconds: number;
  /** One round, of `size(n)` of each count: half of it in the warm-up. */
  round(size: (n: number) => number, progress: Progress): Promise<Record<string, number>>;
}

async function main(): Promise<number> {
  const opts = parseOptions();
  const { plan } = opts;
  const progress = new ProgressBar();
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');

  progress.begin('starting Temporal, PostgreSQL, API and worker', 25);
  const stack = await startStack(
    {
      databaseName: 'ei_bench',
      serviceEnv: opts.serviceEnv,
      engineWorker: opts.only.has('a'),
      cpuProfile: opts.cpuProfile,
    },
    (m) => progress.note(m),
  );
  // Ctrl+C (or a CI timeout) must not leave the dev server and the service running.
  const onSignal = (signal: NodeJS.Signals): void => {
    progress.note(`${signal}: stopping everything the bench started`);
    void stack.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const single = (letter: 'b' | 'e', clients: number, events: number): Step => ({
    phase: `${letter}${clients}`,
    label: `${letter}: ${letter === 'b' ? 'single event' : 'accept latency'}, ${clients} client${clients === 1 ? '' : 's'}`,
    seconds: events / 25,
    round: (size, p) => eventRound(stack, clients, size(events), undefined, p),
  });
  const steps = (
    [
      {
        phase: 'd',
        label: 'd: PostgreSQL ceiling',
        seconds: plan.pgRows / 15_000,
        round: (size, p) =>
          postgresRound(stack, size(plan.pgRows), plan.batchSize, plan.pgConnections, p),
      },
      {
        phase: 'a',
        label: 'a: engine ceiling, trivial workflow',
        seconds: plan.engineWorkflows / 30,
        round: (size, p) =>
          engineRound(stack, size(plan.engineWorkflows), plan.engineConcurrency, p),
      },
      {
        phase: 'a4',
        label: 'a: engine floor of the chain, four no-op local activities',
        seconds: plan.engineWorkflows / 25,
        round: (size, p) =>
          engineRound(stack, size(plan.engineWorkflows), plan.engineConcurrency, p, true),
      },
      single('e', 1, plan.acceptUnloadedRequests),
      ...opts.singleEventClients.map((clients) =>
        single('b', clients, plan.singleEvents[clients]!),
      ),
      single('e', plan.acceptLoadedConcurrency, plan.acceptLoadedRequests),
      {
        phase: 'c',
        label: 'c: batch',
        seconds: (plan.batchesPerRound * plan.batchSize) / 1500,
        round: (size, p) =>
          eventRound(stack, plan.batchConcurrency, size(plan.batchesPerRound), plan.batchSize, p),
      },
      {
        phase: 'g',
        label: 'g: browser SDK, 1 message per /v1/track, 64 clients',
        seconds: plan.browserRequests / 500,
        round: (size, p) => trackingRound(stack, 64, size(plan.browserRequests), 1, p),
      },
      {
        phase: 'h',
        label: 'h: analytics-node, 15 messages per /v1/batch, 8 clients',
        seconds: (plan.nodeRequests * 15) / 1500,
        round: (size, p) => trackingRound(stack, 8, size(plan.nodeRequests), 15, p),
      },
      {
        phase: 'i',
        label: 'i: accept alone (worker paused) beside the 401 path, 64 clients',
        seconds: plan.acceptAloneRequests / 40,
        round: (size, p) => acceptRound(stack, 64, size(plan.acceptAloneRequests), p),
      },
      {
        phase: 'p',
        label: 'p: batch, with a tracking plan and without',
        seconds: (2 * plan.batchesPerRound * plan.batchSize) / 1500,
        round: (size, p) => planRound(size(plan.batchesPerRound), p),
      },
    ] as Step[]
  ).filter((step) => opts.only.has(step.phase[0]!));
  /**
   * One round of c without a plan and one with the 20-schema plan in `enforce` mode, in turns
   * (which goes first alternates), so that drift on a shared machine hits both alike.
   */
  let planRounds = 0;
  async function planRound(batches: number, p: Progress): Promise<Record<string, number>> {
    const withPlan = { trackingPlan: benchTrackingPlan() };
    const run = (options: { trackingPlan?: unknown }, from: number) =>
      eventRound(
        stack,
        plan.batchConcurrency,
        batches,
        plan.batchSize,
        (f, d) => p(from + f / 2, d),
        options,
      );
    const planFirst = planRounds++ % 2 === 1;
    const first = await run(planFirst ? withPlan : {}, 0);
    const second = await run(planFirst ? {} : withPlan, 0.5);
    const [without, planned] = planFirst ? [second, first] : [first, second];
    return {
      events: 2 * batches * plan.batchSize,
      eventsPerSecWithout: without.eventsPerSec,
      eventsPerSecWithPlan: planned.eventsPerSec,
      ratio: planned.eventsPerSec / without.eventsPerSec,
      latencyP50MsWithout: without.latencyP50Ms,
      latencyP50MsWithPlan: planned.latencyP50Ms,
    };
  }
  progress.total = 27 + steps.reduce((n, step) => n + step.seconds * (plan.rounds + 0.5), 0);

  const sampler = new ProcessSampler(stack.processes);
  const { rows } = await stack.pg.query<{ v: string }>(
    `select current_setting('server_version') as v`,
  );
  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    label: opts.label,
    plan: plan.name,
    machine: await describeMachine(stack.temporalCli, rows[0]!.v),
    serviceEnv: opts.serviceEnv,
    payloadBytes: PAYLOAD_BYTES,
    figures: {},
    f: {},
    workByPhase: {},
    targets: [],
    checkFailures: [],
  };
  try {
    for (const { phase, label, seconds, round } of steps) {
      progress.begin(label, seconds * (plan.rounds + 0.5));
      sampler.setPhase(phase);
      const total = plan.rounds + 1;
      const out: Record<string, number>[] = [];
      try {
        for (let i = 0; i < total; i++) {
          const tag = i === 0 ? 'warm-up' : `round ${i}/${plan.rounds}`;
          const r = await round(
            (n) => (i === 0 ? Math.ceil(n / 2) : n),
            (fraction, detail) => progress.update((i + fraction) / total, `${tag}: ${detail}`),
          );
          const work = r.events ?? r.workflows;
          if (work !== undefined)
            results.workByPhase[phase] = (results.workByPhase[phase] ?? 0) + work;
          if (i > 0) out.push(r);
        }
        results.figures[phase] = measured(out);
        const median = JSON.stringify(results.figures[phase].median, (_k, v: unknown) =>
          typeof v === 'number' ? Math.round(v * 10) / 10 : v,
        );
        progress.note(`${label}: ${median}`);
      } catch (err) {
        if (!(err instanceof CheckError)) throw err;
        results.checkFailures.push(`${label}: ${err.message}`);
        progress.note(`CHECK FAILED in ${label}: ${err.message}`);
      }
    }
  } finally {
    progress.begin('stopping', 2);
    results.f = sampler.stop();
    await stack.stop();
    if (opts.cpuProfile) await keepProfiles(stack, stamp, (m) => progress.note(m));
  }
  results.targets = evaluateTargets(results);
  results.finishedAt = new Date().toISOString();
  progress.note(`bench finished in ${progress.elapsed()}`, false);

  await mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${stamp}.json`);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  await writeFile(file, json);
  await writeFile(path.join(RESULTS_DIR, 'latest.json'), json);
  console.log(formatTable(results));
  console.log(`\nResults: ${path.relative(process.cwd(), file)} (and bench/results/latest.json)`);
  if (results.checkFailures.length > 0) {
    console.log(`Service logs of this run: ${stack.dir}`);
    return 1;
  }
  // Logs (and the dev server's state) are only worth keeping when something failed.
  await rm(stack.dir, { recursive: true, force: true });
  return 0;
}

/** Copies the CPU profiles next to the results, each named after the process it profiles. */
async function keepProfiles(stack: Stack, stamp: string, log: (m: string) => void): Promise<void> {
  const from = path.join(stack.dir, 'profiles');
  const files = await readdir(from).catch(() => []);
  if (files.length === 0) return log('no CPU profiles were written');
  const to = path.join(RESULTS_DIR, `profiles-${stamp}`);
  await mkdir(to, { recursive: true });
  const names = new Map(
    Object.entries(stack.processes).map(([name, pid]) => [String(pid), name.replace(/\s+/g, '-')]),
  );
  for (const file of files) {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
    const pid = file.split('.')[3] ?? '';
    await cp(path.join(from, file), path.join(to, `${names.get(pid) ?? 'unknown'}-${file}`));
  }
  log(`CPU profiles of the API and worker: ${path.relative(process.cwd(), to)}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write('\n');
    console.error(err instanceof UsageError ? err.message : err);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
