import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { firstFew, type Findings } from './checker';
import type { FaultRecord } from './fault-injector';
import type { ClientFigures } from './ledger';
import { FAULT_KINDS, type FaultKind, type RunPlan } from './plan';
import type { ProcessFigures } from './service-process';

/** Everything a run measured; written as JSON and printed as a table. */
export interface Figures {
  mode: RunPlan['mode'];
  seed: number;
  /** How many API and worker processes ran. */
  processCounts: RunPlan['processes'];
  command: string;
  startedAt: string;
  durationSeconds: number;
  idempotency: string;
  serviceEnv: Record<string, string>;
  events: {
    sent: number;
    accepted: number;
    processed: number;
    failed: number;
    lost: number;
    duplicated: number;
    duplicateKeys: number;
    nonTerminal: number;
    nonTerminalByStatus: Record<string, number>;
    processedTwice: number;
    wrongOutcome: number;
    inconsistent: number;
    unacknowledgedRows: number;
    unacknowledgedNonTerminal: number;
    lateWrites: number | null;
    takenUpTwice: number;
    rowsInDatabase: number;
  };
  client: ClientFigures;
  faults: {
    injected: number;
    byKind: Record<FaultKind, number>;
    failed: number;
    list: FaultRecord[];
  };
  processes: Record<'api' | 'worker', ProcessFigures>;
  quiescence: {
    waitedSeconds: number;
    unfinished: number;
    openWorkflows: number | null;
    /** Batch runs that handed over to a new run: the continue-as-new path was exercised. */
    continuedAsNew: number | null;
  };
  verdict: { passed: boolean; reasons: string[] };
  samples: Record<string, unknown>;
}

export function buildFigures(input: {
  plan: RunPlan;
  command: string;
  startedAt: Date;
  idempotency: string;
  serviceEnv: Record<string, string>;
  client: ClientFigures;
  findings: Findings;
  faults: FaultRecord[];
  processes: Record<'api' | 'worker', ProcessFigures>;
  quiescence: Figures['quiescence'];
}): Figures {
  const { findings: f, faults, plan } = input;
  const injected = faults.filter((r) => r.error === undefined);
  const byKind = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const r of injected) byKind[r.kind]++;

  const events: Figures['events'] = {
    sent: input.client.eventsSent,
    accepted: f.accepted,
    processed: f.processed,
    failed: f.failed,
    lost: f.lost.length,
    duplicated: f.duplicateRows,
    duplicateKeys: f.duplicateKeys.length,
    nonTerminal: f.nonTerminal.length,
    nonTerminalByStatus: f.nonTerminalByStatus,
    processedTwice: f.doubleProcessing.events.length,
    wrongOutcome: f.wrongOutcome.length,
    inconsistent: f.inconsistent.length,
    unacknowledgedRows: f.unacknowledged.rows,
    unacknowledgedNonTerminal: f.unacknowledged.nonTerminal,
    lateWrites: f.lateWrites,
    takenUpTwice: f.takenUpTwice.length,
    rowsInDatabase: f.rows,
  };
  const reasons = [
    [events.lost, 'accepted events lost'],
    [events.duplicated, 'duplicate event rows'],
    [events.duplicateKeys, 'idempotency keys held by two rows'],
    [events.nonTerminal, 'accepted events not in a terminal state'],
    [events.unacknowledgedNonTerminal, 'stored events (answer lost) not in a terminal state'],
    [events.processedTwice, 'events processed twice'],
    [events.wrongOutcome, 'events with the wrong outcome'],
    [events.inconsistent, 'rows with inconsistent status fields'],
    [events.lateWrites ?? 0, 'writes after quiescence'],
    [f.mixups.length, 'ids answered for two different events'],
    [input.client.rejected, 'valid requests rejected with 4xx'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, what]) => `${n} ${what}`);
  if (injected.length < plan.minFaults) {
    reasons.push(`only ${injected.length} faults injected, at least ${plan.minFaults} required`);
  }

  return {
    mode: plan.mode,
    seed: plan.seed,
    processCounts: plan.processes,
    command: input.command,
    startedAt: input.startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - input.startedAt.getTime()) / 1000),
    idempotency: input.idempotency,
    serviceEnv: input.serviceEnv,
    events,
    client: input.client,
    faults: {
      injected: injected.length,
      byKind,
      failed: faults.length - injected.length,
      list: faults,
    },
    processes: input.processes,
    quiescence: input.quiescence,
    verdict: { passed: reasons.length === 0, reasons },
    samples: {
      lost: firstFew(f.lost),
      duplicated: firstFew(f.duplicated),
      duplicateKeys: firstFew(f.duplicateKeys),
      nonTerminal: firstFew(f.nonTerminal),
      processedTwice: {
        processedAtRewritten: firstFew(f.doubleProcessing.processedAtRewritten),
        processedTwice: firstFew(f.doubleProcessing.processedTwice),
        leftProcessed: firstFew(f.doubleProcessing.leftProcessed),
        propertiesRewritten: firstFew(f.doubleProcessing.propertiesRewritten),
      },
      wrongOutcome: firstFew(f.wrongOutcome),
      inconsistent: firstFew(f.inconsistent),
      mixups: firstFew(f.mixups),
      takenUpTwice: firstFew(f.takenUpTwice),
      rejected: input.client.rejectedSamples,
      evidence: f.evidence,
    },
  };
}

/** The figures as a two-column table, then the verdict. */
export function formatTable(fig: Figures): string {
  const e = fig.events;
  const c = fig.client;
  const nonTerminal = Object.entries(e.nonTerminalByStatus)
    .sort(([, a], [, b]) => b - a)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  const rows: [string, string | number][] = [
    ['mode / seed', `${fig.mode} / ${fig.seed}`],
    ['API / worker processes', `${fig.processCounts.apis} / ${fig.processCounts.workers}`],
    ['idempotency keys', fig.idempotency],
    ['events sent (logical)', e.sent],
    ['events accepted (ids answered)', e.accepted],
    ['  processed', e.processed],
    ['  failed', e.failed],
    ['lost', e.lost],
    ['duplicated (extra rows)', e.duplicated],
    ['duplicate idempotency keys', e.duplicateKeys],
    ['non-terminal', nonTerminal ? `${e.nonTerminal} (${nonTerminal})` : e.nonTerminal],
    ['processed twice', e.processedTwice],
    ['wrong outcome', e.wrongOutcome],
    ['inconsistent rows', e.inconsistent],
    ['writes after quiescence', e.lateWrites ?? 'n/a (not quiet)'],
    ['taken up by 2+ workflow runs', e.takenUpTwice],
    [
      'rows nobody acknowledged',
      `${e.unacknowledgedRows} (${e.unacknowledgedNonTerminal} unfinished)`,
    ],
    ['rows in database', e.rowsInDatabase],
    ['requests (single / batch)', `${c.requests} (${c.singleRequests} / ${c.batchRequests})`],
    ['client retries', c.retries],
    [
      '  causes',
      Object.entries(c.failuresByCause)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || '-',
    ],
    ['requests sent twice at once', c.hedged],
    ['idempotent replays (200)', c.replays],
    ['requests abandoned (events)', `${c.abandoned} (${c.abandonedEvents})`],
    ['faults injected', fig.faults.injected],
    ...Object.entries(fig.faults.byKind).map(([k, n]): [string, number] => [`  ${k}`, n]),
    ['faults that went wrong', fig.faults.failed],
    [
      'API starts / unplanned exits',
      `${fig.processes.api.starts} / ${fig.processes.api.unplannedExits}`,
    ],
    [
      'worker starts / unplanned exits',
      `${fig.processes.worker.starts} / ${fig.processes.worker.unplannedExits}`,
    ],
    [
      'quiescence wait',
      `${fig.quiescence.waitedSeconds} s (${fig.quiescence.unfinished} unfinished)`,
    ],
    ['open workflows at the end', fig.quiescence.openWorkflows ?? 'unknown'],
    ['batch runs continued as new', fig.quiescence.continuedAsNew ?? 'unknown'],
    ['duration', `${fig.durationSeconds} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  const verdict = fig.verdict.passed
    ? 'PASSED: nothing lost, nothing doubled'
    : `FAILED:\n${fig.verdict.reasons.map((r) => `  - ${r}`).join('\n')}`;
  return `\nFault suite figures\n${lines.join('\n')}\n\n${verdict}\n`;
}

/** Writes the figures to `<dir>/latest.json` and into the run's own directory. */
export async function writeFigures(fig: Figures, dir: string, runDir: string): Promise<string> {
  const json = `${JSON.stringify(fig, null, 2)}\n`;
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(runDir, 'figures.json'), json);
  const latest = path.join(dir, 'latest.json');
  await writeFile(latest, json);
  return latest;
}
