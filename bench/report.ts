import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { ProcessUsage } from './process-sampler';
import { PAYLOAD_BYTES } from './scenarios/events';

export interface Measured {
  rounds: Record<string, number>[];
  median: Record<string, number>;
}

/** What one run found; written as JSON to bench/results. */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  label: string;
  plan: string;
  machine: Awaited<ReturnType<typeof describeMachine>>;
  serviceEnv: Record<string, string>;
  payloadBytes: number;
  /** By phase: a, a4, b1, b16, b64, c, d, e1, e64, g, h, i, p. */
  figures: Record<string, Measured>;
  f: Record<string, ProcessUsage>;
  /** Events (or workflows) each phase processed, warm-up included, to divide CPU time by. */
  workByPhase: Record<string, number>;
  targets: { name: string; target: string; value: string; pass: boolean | undefined }[];
  /** A failed check voids the run: the figures above cannot be trusted. */
  checkFailures: string[];
}

/** What the figures were measured on; they mean little without it. */
export async function describeMachine(temporalCli: string, postgres: string) {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpuModel;
  } catch {
    // Not Linux: what Node knows will do.
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel,
    ramGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    // Other users of a shared machine show here.
    loadAverageAtStart: os.loadavg()[0]!,
    node: process.version,
    temporalCli: await new Promise<string>((resolve) =>
      execFile(temporalCli, ['--version'], (err, out) => resolve(err ? 'unknown' : out.trim())),
    ),
    postgres,
  };
}

/** The median of each field: robust to one round disturbed by a neighbour. */
export function measured(rounds: Record<string, number>[]): Measured {
  const median: Record<string, number> = {};
  for (const key of Object.keys(rounds[0] ?? {})) {
    const sorted = rounds.map((r) => r[key]!).sort((x, y) => x - y);
    const mid = Math.floor(sorted.length / 2);
    median[key] = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  }
  return { rounds, median };
}

function round(value: number): number {
  if (!Number.isFinite(value) || value === 0 || Math.abs(value) >= 1000) return Math.round(value);
  return Number(value.toPrecision(3));
}

const fmt = (v: number | undefined, unit = ''): string =>
  v === undefined || Number.isNaN(v) ? 'n/a' : `${round(v).toLocaleString('en-US')}${unit}`;

const phasePeaks = (usage: ProcessUsage): [string, number][] =>
  Object.entries(usage.byPhase).filter(([phase]) => phase !== 'start-up');

/** The targets of a 2-core machine, as agreed for the service, against the medians. */
export function evaluateTargets(r: BenchResults): BenchResults['targets'] {
  const fig = (phase: string) => r.figures[phase]?.median ?? {};
  const ratio = (x?: number, y?: number) => (x && y ? x / y : undefined);
  const cpuPerUnit = (phase: string, names: string[]) => {
    const seconds = names.map((n) => r.f[n]?.cpuSecondsByPhase[phase] ?? 0);
    return ratio(seconds.reduce((x, y) => x + y, 0) * 1000, r.workByPhase[phase]);
  };
  const peakRss = (name: string) => {
    const usage = r.f[name];
    return usage && Math.max(...phasePeaks(usage).map(([, mb]) => mb));
  };
  // [name, at least or at most, limit, value, unit]
  const targets: [string, '>=' | '<=' | undefined, number, number | undefined, string?][] = [
    // What analytics SDKs send, POST to processed.
    ['g browser SDK events/s', '>=', 1000, fig('g').eventsPerSec],
    ['h analytics-node events/s', '>=', 2500, fig('h').eventsPerSec],
    ['c batch events/s', '>=', 4500, fig('c').eventsPerSec],
    // The single-event path against what the engine does for a chain of four empty steps.
    ['b(64)/a4', '>=', 0.9, ratio(fig('b64').eventsPerSec, fig('a4').workflowsPerSec)],
    ['b(64)/a', undefined, 0, ratio(fig('b64').eventsPerSec, fig('a').workflowsPerSec)],
    // Accepting against Koa's own floor (the 401 path), load client on the same cores.
    ['i accept alone / 401 path', '>=', 0.7, fig('i').acceptVsFloor],
    ['i accept p99, 64 clients', '<=', 50, fig('i').acceptP99Ms, ' ms'],
    ['e accept p99, 1 client', '<=', 10, fig('e1').acceptP99Ms, ' ms'],
    ['g accept rate while processing', '>=', 1000, fig('g').acceptPerSec, '/s'],
    ['f worker peak RSS in every phase', '<=', 400, peakRss('worker'), ' MB'],
    ['f API peak RSS in every phase', '<=', 300, peakRss('api'), ' MB'],
    [
      'CPU per event / trivial workflow',
      undefined as never,
      0,
      ratio(
        cpuPerUnit('b64', ['api', 'worker', 'temporal dev server']),
        cpuPerUnit('a', ['engine worker', 'temporal dev server']),
      ),
    ],
    // A 20-schema plan in enforce mode costs the batch path at most a tenth of its speed.
    ['p plan/no plan', '>=', 0.9, fig('p').ratio],
  ];
  // A figure without an operator is reported beside the targets, not held to one.
  return targets.map(([name, op, limit, value, unit]) => ({
    name,
    target: op ? `${op} ${fmt(limit, unit)}` : '(reported)',
    value: fmt(value, unit),
    pass:
      !op || value === undefined || Number.isNaN(value)
        ? undefined
        : op === '>='
          ? value >= limit
          : value <= limit,
  }));
}

/** The one table of the run, as Markdown, ready to paste. */
export function formatTable(r: BenchResults): string {
  const verdict = (name: string): string => {
    const t = r.targets.find((x) => x.name === name);
    if (!t || t.target === '(reported)') return '';
    return `${t.target}: ${t.pass === undefined ? 'n/a' : t.pass ? 'pass' : 'FAIL'}`;
  };
  type Median = Record<string, number>;
  const latency = (m: Median) =>
    `${fmt(m.eventsPerSec)} events/s; latency p50 ${fmt(m.latencyP50Ms)} / p99 ${fmt(m.latencyP99Ms)} ms`;
  const accept = (m: Median) => `p50 ${fmt(m.acceptP50Ms)} / p99 ${fmt(m.acceptP99Ms)} ms`;
  const ratio = (name: string) => () => r.targets.find((t) => t.name === name)!.value;
  // [row, phase of its figure (skipped when not measured), what, figure, target]
  const figures: [string, string | undefined, string, (m: Median) => string, string?][] = [
    [
      'a',
      'a',
      'engine ceiling: trivial workflow, 64 starting clients',
      (m) => `${fmt(m.workflowsPerSec)} workflows/s`,
    ],
    [
      'a',
      'a4',
      'engine floor of the chain: four no-op local activities, 64 starting clients',
      (m) => `${fmt(m.workflowsPerSec)} workflows/s`,
    ],
    ['b', 'b1', 'single event, 1 client: POST to processed row', latency],
    ['b', 'b16', 'single event, 16 clients: POST to processed row', latency],
    ['b', 'b64', 'single event, 64 clients: POST to processed row', latency],
    [
      'b(64)/a4',
      undefined,
      'single-event path vs the four-step floor',
      ratio('b(64)/a4'),
      'b(64)/a4',
    ],
    ['b(64)/a', undefined, 'single-event path vs the trivial workflow', ratio('b(64)/a')],
    [
      'c',
      'c',
      `batch: 500 events of ${PAYLOAD_BYTES} B payload, 4 clients: POST to processed rows`,
      (m) => `${latency(m)}; POST ${accept(m)}`,
      'c batch events/s',
    ],
    [
      'd',
      'd',
      'PostgreSQL ceiling: multi-row INSERT + set-based UPDATE, chunks of 500, 4 connections',
      (m) => `${fmt(m.rowsPerSec)} rows/s`,
    ],
    [
      'p',
      'p',
      'batch as c, with a 20-schema tracking plan in enforce mode / without (rounds in turns)',
      (m) =>
        `${fmt(m.eventsPerSecWithPlan)} / ${fmt(m.eventsPerSecWithout)} events/s; latency p50 ${fmt(m.latencyP50MsWithPlan)} / ${fmt(m.latencyP50MsWithout)} ms; ratio ${fmt(m.ratio)}`,
      'p plan/no plan',
    ],
    ['e', 'e1', 'accept latency, 1 client (unloaded)', accept, 'e accept p99, 1 client'],
    [
      'e',
      'e64',
      'accept latency and rate, 64 clients, worker running',
      (m) => `${accept(m)}; ${fmt(m.acceptPerSec)} requests/s`,
    ],
    [
      'g',
      'g',
      'browser SDK: 1 message per POST /v1/track, 64 clients: POST to processed row',
      (m) =>
        `${latency(m)}; POST ${accept(m)}, ${fmt(m.acceptPerSec)} requests/s; ${fmt(m.groups)} groups`,
      'g browser SDK events/s',
    ],
    [
      'g',
      'g',
      'accept rate while processing at full speed',
      (m) => `${fmt(m.acceptPerSec)} requests/s`,
      'g accept rate while processing',
    ],
    [
      'h',
      'h',
      'analytics-node: 15 messages per POST /v1/batch, 8 clients: POST to processed rows',
      (m) => `${latency(m)}; POST ${accept(m)}; ${fmt(m.groups)} groups`,
      'h analytics-node events/s',
    ],
    [
      'i',
      'i',
      'accept alone (worker paused), single events, 64 clients, beside the 401 path',
      (m) =>
        `${fmt(m.acceptPerSec)} accepted/s against ${fmt(m.unauthorizedPerSec)} 401s/s (${fmt(m.acceptVsFloor)}); ${accept(m)}`,
      'i accept alone / 401 path',
    ],
    [
      'i',
      'i',
      'accept alone: p99 at 64 clients',
      (m) => `${fmt(m.acceptP99Ms)} ms`,
      'i accept p99, 64 clients',
    ],
  ];
  const rows = [
    ...figures.map(([id, phase, what, show, target]) => {
      const m = phase === undefined ? {} : r.figures[phase]?.median;
      return [id, what, m ? show(m) : 'skipped', target ? verdict(target) : ''];
    }),
    ...['api', 'worker', 'temporal dev server'].map((name) => {
      const m = r.f[name];
      const phases = m && phasePeaks(m).map(([phase, mb]) => `${phase} ${fmt(mb)}`);
      return [
        'f',
        `peak RSS, ${name} process`,
        m ? `${fmt(m.peakRssMb)} MB (by phase: ${phases!.join(', ')})` : 'n/a',
        name === 'worker'
          ? verdict('f worker peak RSS in every phase')
          : name === 'api'
            ? verdict('f API peak RSS in every phase')
            : '',
      ];
    }),
    ...['b64', 'a']
      .filter((phase) => r.workByPhase[phase])
      .map((phase) => [
        'f',
        phase === 'a'
          ? 'CPU ms per trivial workflow (a)'
          : 'CPU ms per event, single event, 64 clients',
        Object.entries(r.f)
          .filter(([, usage]) => usage.cpuSecondsByPhase[phase] !== undefined)
          .map(
            ([name, usage]) =>
              `${name} ${fmt((usage.cpuSecondsByPhase[phase]! * 1000) / r.workByPhase[phase]!)}`,
          )
          .join(', '),
        phase === 'b64' ? verdict('CPU per event / trivial workflow') : '',
      ]),
  ];
  const header = ['', 'measurement (medians)', 'figure', 'target'];
  const table = [header, header.map(() => '---'), ...rows].map((cols) => `| ${cols.join(' | ')} |`);
  const m = r.machine;
  const env = Object.keys(r.serviceEnv).length
    ? `; service env ${JSON.stringify(r.serviceEnv)}`
    : '';
  return [
    `Event ingestion bench, ${r.plan} run, ${r.startedAt}${r.label ? ` (${r.label})` : ''}`,
    `Machine: ${m.nproc} cores, ${m.cpuModel}, ${m.ramGiB} GiB RAM, load ${round(m.loadAverageAtStart)} at start; ` +
      `Node ${m.node}; ${m.temporalCli}; PostgreSQL ${m.postgres}`,
    `Temporal dev server state: memory${env}`,
    '',
    ...table,
    '',
    r.checkFailures.length === 0
      ? 'Checks: every event accepted was processed, counts match.'
      : `CHECKS FAILED, the figures are void:\n${r.checkFailures.map((f) => `  - ${f}`).join('\n')}`,
  ].join('\n');
}
