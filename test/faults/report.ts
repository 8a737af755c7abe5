import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PROBLEMS, type Findings, type Problem } from './check';
import type { FaultRecord } from './faults';
import type { ClientFigures } from './load';
import { FAULT_KINDS, type RunPlan } from './plan';
import type { ProcessFigures } from './stack';

/** Everything a run measured, and the verdict; written as JSON and printed as a table. */
export type Figures = ReturnType<typeof buildFigures>;

export function buildFigures(input: {
  plan: RunPlan;
  command: string;
  startedAt: Date;
  serviceEnv: Record<string, string>;
  client: ClientFigures;
  findings: Findings;
  faults: FaultRecord[];
  processes: Record<'api' | 'worker', ProcessFigures[]>;
  /** `continuedAsNew`: batch runs that handed over to a new one (that path was exercised). */
  quiescence: Record<'waitedSeconds' | 'unfinished', number> &
    Record<'openWorkflows' | 'continuedAsNew', number | null>;
}) {
  const { findings: f, faults, plan, client } = input;
  const injected = faults.filter((r) => r.error === undefined);
  const reasons = Object.entries(f.problems)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([problem, n]) => `${n} ${PROBLEMS[problem as Problem]}`);
  if (client.rejected > 0) reasons.push(`${client.rejected} valid requests rejected with 4xx`);
  // Every planned fault must strike: fewer would not be a fair trial.
  if (injected.length < plan.faults.length) {
    reasons.push(
      `only ${injected.length} faults injected, at least ${plan.faults.length} required`,
    );
  }
  return {
    mode: plan.mode,
    seed: plan.seed,
    processCounts: plan.processes,
    command: input.command,
    startedAt: input.startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - input.startedAt.getTime()) / 1000),
    serviceEnv: input.serviceEnv,
    events: {
      sent: client.eventsSent,
      ...f.counts,
      ...f.problems,
      nonTerminalByStatus: f.nonTerminalByStatus,
    },
    client,
    faults: {
      injected: injected.length,
      byKind: Object.fromEntries(
        FAULT_KINDS.map((k) => [k, injected.filter((r) => r.kind === k).length]),
      ),
      failed: faults.length - injected.length,
      list: faults,
    },
    processes: input.processes,
    quiescence: input.quiescence,
    verdict: { passed: reasons.length === 0, reasons },
    samples: { ...f.samples, rejected: client.rejectedSamples, evidence: f.evidence },
  };
}

/** Writes the figures to `<dir>/latest.json` and the run's directory, and prints them. */
export async function report(fig: Figures, dir: string, runDir: string): Promise<void> {
  const json = `${JSON.stringify(fig, null, 2)}\n`;
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(runDir, 'figures.json'), json);
  await writeFile(path.join(dir, 'latest.json'), json);

  const { events: e, client: c, processes: p, quiescence: q } = fig;
  const list = (o: Record<string, number>) =>
    Object.entries(o)
      .sort(([, a], [, b]) => b - a)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  const nonTerminal = list(e.nonTerminalByStatus);
  const rows: [string, string | number][] = [
    ['mode / seed', `${fig.mode} / ${fig.seed}`],
    ['API / worker processes', `${fig.processCounts.apis} / ${fig.processCounts.workers}`],
    ['events sent (logical)', e.sent],
    ['events accepted (ids answered)', e.accepted],
    ['  processed', e.processed],
    ['  failed', e.failed],
    ...Object.entries(PROBLEMS).map(([k, label]): [string, string | number] => [
      label,
      e[k as Problem] ?? 'n/a (not quiet)',
    ]),
    ['  non-terminal by state', nonTerminal || '-'],
    ['taken up by 2+ workflow runs', e.takenUpTwice],
    ['rows nobody acknowledged', e.unacknowledgedRows],
    ['rows in database', e.rowsInDatabase],
    [
      'requests (single / batch / track / tracking batch)',
      `${c.requests} (${c.singleRequests} / ${c.batchRequests} / ${c.trackRequests} / ${c.trackingBatchRequests})`,
    ],
    [
      '  tracking messages answered 200',
      `${c.messagesAccepted} (${e.messages} found by messageId)`,
    ],
    ['client retries', c.retries],
    ['  causes', list(c.failuresByCause) || '-'],
    ['requests sent twice at once', c.hedged],
    ['idempotent replays (200)', c.replays],
    ['requests abandoned (events)', `${c.abandoned} (${c.abandonedEvents})`],
    ['faults injected', fig.faults.injected],
    ...Object.entries(fig.faults.byKind).map(([k, n]): [string, number] => [`  ${k}`, n]),
    ['faults that went wrong', fig.faults.failed],
    ['API starts / unplanned exits', restarts(p.api)],
    ['worker starts / unplanned exits', restarts(p.worker)],
    ['quiescence wait', `${q.waitedSeconds} s (${q.unfinished} unfinished)`],
    ['open workflows at the end', q.openWorkflows ?? 'unknown'],
    ['batch runs continued as new', q.continuedAsNew ?? 'unknown'],
    ['duration', `${fig.durationSeconds} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const verdict = fig.verdict.passed
    ? 'PASSED: nothing lost, nothing doubled'
    : `FAILED:\n${fig.verdict.reasons.map((r) => `  - ${r}`).join('\n')}`;
  const relative = (file: string) => path.relative(process.cwd(), file);
  const lines = [
    '\nFault suite figures',
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    `\n${verdict}\n`,
    `Figures: ${relative(path.join(dir, 'latest.json'))}; logs: ${relative(runDir)}`,
    ...fig.faults.list.map(
      (f) =>
        `  fault ${String(f.n).padStart(2)} at ${f.atSeconds.toFixed(1).padStart(6)} s  ${f.kind.padEnd(17)} ${f.error ? `ERROR ${f.error}` : f.detail}`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const restarts = (all: ProcessFigures[]): string =>
  `${all.reduce((n, f) => n + f.starts, 0)} / ${all.reduce((n, f) => n + f.unplannedExits, 0)}`;
