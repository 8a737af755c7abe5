import { PAYLOAD_BYTES } from './payloads';
import type { BenchResults, TargetResult } from './results';
import { round } from './stats';

/** The targets of a 2-core machine, as agreed for the service. */
export const TARGETS = {
  /** 4 x the seed stack's 1,292 events/s on the same machine and client (issue 10). */
  batchEventsPerSec: 5_200,
  batchOverPostgres: 0.5,
  /** Issue 9: the single-event path near the engine's ceiling, and at least the seed stack. */
  single64OverEngine: 0.8,
  single64EventsPerSec: 73,
  acceptUnloadedP99Ms: 10,
  acceptLoadedPerSec: 1000,
  acceptLoadedP99OverP50: 2,
  /** CPU per processed event (API + worker + server) against a trivial workflow's. */
  cpuPerEventOverTrivial: 1.3,
  workerRssMb: 400,
} as const;

const fmt = (v: number | undefined, unit = ''): string =>
  v === undefined || Number.isNaN(v) ? 'n/a' : `${round(v).toLocaleString('en-US')}${unit}`;

/** Evaluates every target against the medians; unmeasured figures are `pass: undefined`. */
export function evaluateTargets(r: BenchResults): TargetResult[] {
  const c = r.c && 'median' in r.c ? r.c.median : undefined;
  const loaded = r.e?.loaded.median;
  const unloaded = r.e?.unloaded.median;
  const worker = r.f.worker;
  const workerPeak = worker
    ? Math.max(
        ...Object.entries(worker.byPhase)
          .filter(([phase]) => phase !== 'start-up')
          .map(([, mb]) => mb),
      )
    : undefined;
  const cpuPerUnit = (phase: string, names: string[]): number | undefined => {
    const work = r.workByPhase[phase];
    if (!work) return undefined;
    const seconds = names.map((n) => r.f[n]?.cpuSecondsByPhase[phase] ?? 0);
    return (seconds.reduce((x, y) => x + y, 0) * 1000) / work;
  };
  const eventCpu = cpuPerUnit('b64', ['api', 'worker', 'temporal dev server']);
  const trivialCpu = cpuPerUnit('a', ['engine worker', 'temporal dev server']);
  const b64 = r.b?.['64']?.median;
  const check = (value: number | undefined, ok: (v: number) => boolean) =>
    value === undefined || Number.isNaN(value) ? undefined : ok(value);
  return [
    {
      name: 'c batch events/s',
      target: `>= ${TARGETS.batchEventsPerSec.toLocaleString('en-US')}`,
      value: fmt(c?.eventsPerSec),
      pass: check(c?.eventsPerSec, (v) => v >= TARGETS.batchEventsPerSec),
    },
    {
      name: 'c/d',
      target: `>= ${TARGETS.batchOverPostgres}`,
      value: fmt(r.ratios.cOverD),
      pass: check(r.ratios.cOverD, (v) => v >= TARGETS.batchOverPostgres),
    },
    {
      name: 'b(64)/a',
      target: `>= ${TARGETS.single64OverEngine}`,
      value: fmt(r.ratios.bOverA),
      pass: check(r.ratios.bOverA, (v) => v >= TARGETS.single64OverEngine),
    },
    {
      name: 'b(64) events/s',
      target: `>= ${TARGETS.single64EventsPerSec}`,
      value: fmt(b64?.eventsPerSec),
      pass: check(b64?.eventsPerSec, (v) => v >= TARGETS.single64EventsPerSec),
    },
    {
      name: 'CPU per event / trivial workflow',
      target: `<= ${TARGETS.cpuPerEventOverTrivial}`,
      value: eventCpu && trivialCpu ? fmt(eventCpu / trivialCpu) : 'n/a',
      pass:
        eventCpu && trivialCpu
          ? eventCpu / trivialCpu <= TARGETS.cpuPerEventOverTrivial
          : undefined,
    },
    {
      name: 'e accept rate, 64 clients',
      target: `>= ${TARGETS.acceptLoadedPerSec.toLocaleString('en-US')}/s`,
      value: fmt(loaded?.acceptPerSec),
      pass: check(loaded?.acceptPerSec, (v) => v >= TARGETS.acceptLoadedPerSec),
    },
    {
      name: 'e accept p99, 1 client',
      target: `<= ${TARGETS.acceptUnloadedP99Ms} ms`,
      value: fmt(unloaded?.acceptP99Ms, ' ms'),
      pass: check(unloaded?.acceptP99Ms, (v) => v <= TARGETS.acceptUnloadedP99Ms),
    },
    {
      name: 'e accept p99/p50, 64 clients',
      target: `<= ${TARGETS.acceptLoadedP99OverP50}`,
      value: loaded ? fmt(loaded.acceptP99Ms / loaded.acceptP50Ms) : 'n/a',
      pass: loaded
        ? loaded.acceptP99Ms <= TARGETS.acceptLoadedP99OverP50 * loaded.acceptP50Ms
        : undefined,
    },
    {
      name: 'f worker peak RSS in every phase',
      target: `<= ${TARGETS.workerRssMb} MB`,
      value: fmt(workerPeak, ' MB'),
      pass: check(workerPeak, (v) => v <= TARGETS.workerRssMb),
    },
  ];
}

/** The one table of the run, as Markdown, ready to paste. */
export function formatTable(r: BenchResults): string {
  const rows: string[][] = [];
  const verdict = (name: string): string => {
    const t = r.targets.find((x) => x.name === name);
    if (!t) return '';
    return `${t.target}: ${t.pass === undefined ? 'n/a' : t.pass ? 'pass' : 'FAIL'}`;
  };
  const a = r.a?.median;
  rows.push([
    'a',
    `engine ceiling: trivial workflow, ${a?.concurrency ?? 64} starting clients`,
    a ? `${fmt(a.workflowsPerSec)} workflows/s` : 'skipped',
    '',
  ]);
  for (const conc of ['1', '16', '64']) {
    const b = r.b?.[conc]?.median;
    rows.push([
      'b',
      `single event, ${conc} client${conc === '1' ? '' : 's'}: POST to processed row`,
      b
        ? `${fmt(b.eventsPerSec)} events/s; latency p50 ${fmt(b.latencyP50Ms)} / p99 ${fmt(b.latencyP99Ms)} ms`
        : 'skipped',
      conc === '64' ? verdict('b(64) events/s') : '',
    ]);
  }
  const c = r.c;
  rows.push([
    'c',
    `batch: 500 events of ${PAYLOAD_BYTES} B payload, 4 clients: POST to processed rows`,
    c === undefined
      ? 'skipped'
      : 'unavailable' in c
        ? `n/a (${c.unavailable})`
        : `${fmt(c.median.eventsPerSec)} events/s; latency p50 ${fmt(c.median.latencyP50Ms)} / p99 ${fmt(c.median.latencyP99Ms)} ms; POST p50 ${fmt(c.median.acceptP50Ms)} / p99 ${fmt(c.median.acceptP99Ms)} ms`,
    verdict('c batch events/s'),
  ]);
  const d = r.d?.median;
  rows.push([
    'd',
    `PostgreSQL ceiling: multi-row INSERT + set-based UPDATE, chunks of 500, ${d?.connections ?? 4} connections`,
    d ? `${fmt(d.rowsPerSec)} rows/s` : 'skipped',
    '',
  ]);
  rows.push([
    'b(64)/a',
    'single-event path vs engine ceiling',
    fmt(r.ratios.bOverA),
    verdict('b(64)/a'),
  ]);
  rows.push(['c/d', 'batch path vs PostgreSQL ceiling', fmt(r.ratios.cOverD), verdict('c/d')]);
  const un = r.e?.unloaded.median;
  const lo = r.e?.loaded.median;
  rows.push([
    'e',
    'accept latency, 1 client (unloaded)',
    un ? `p50 ${fmt(un.acceptP50Ms)} / p99 ${fmt(un.acceptP99Ms)} ms` : 'skipped',
    verdict('e accept p99, 1 client'),
  ]);
  rows.push([
    'e',
    `accept latency, ${lo?.concurrency ?? 64} clients`,
    lo ? `p50 ${fmt(lo.acceptP50Ms)} / p99 ${fmt(lo.acceptP99Ms)} ms` : 'skipped',
    verdict('e accept p99/p50, 64 clients'),
  ]);
  rows.push([
    'e',
    `accept rate, ${lo?.concurrency ?? 64} clients`,
    lo ? `${fmt(lo.acceptPerSec)} events/s` : 'skipped',
    verdict('e accept rate, 64 clients'),
  ]);
  for (const name of ['api', 'worker', 'temporal dev server']) {
    const m = r.f[name];
    const phases = m
      ? Object.entries(m.byPhase)
          .filter(([phase]) => phase !== 'start-up')
          .map(([phase, mb]) => `${phase} ${fmt(mb)}`)
          .join(', ')
      : '';
    rows.push([
      'f',
      `peak RSS, ${name} process`,
      m ? `${fmt(m.peakRssMb)} MB (by phase: ${phases})` : 'n/a',
      name === 'worker' ? verdict('f worker peak RSS in every phase') : '',
    ]);
  }
  for (const phase of ['b64', 'a']) {
    const work = r.workByPhase[phase];
    if (!work) continue;
    const perUnit = Object.entries(r.f)
      .map(([name, usage]) => {
        const seconds = usage.cpuSecondsByPhase[phase];
        return seconds === undefined ? '' : `${name} ${fmt((seconds * 1000) / work)}`;
      })
      .filter((x) => x !== '')
      .join(', ');
    rows.push([
      'f',
      phase === 'a'
        ? 'CPU ms per trivial workflow (a)'
        : 'CPU ms per event, single event, 64 clients',
      perUnit,
      phase === 'b64' ? verdict('CPU per event / trivial workflow') : '',
    ]);
  }
  const header = ['', 'measurement (medians)', 'figure', 'target'];
  const table = [header, header.map(() => '---'), ...rows].map((cols) => `| ${cols.join(' | ')} |`);
  const m = r.machine;
  return [
    `Event ingestion bench, ${r.plan} run, ${r.startedAt}${r.label ? ` (${r.label})` : ''}`,
    `Machine: ${m.nproc} cores, ${m.cpuModel}, ${m.ramGiB} GiB RAM, load ${round(m.loadAverageAtStart)} at start; ` +
      `Node ${m.node}; ${m.temporalCli}; PostgreSQL ${m.postgres}`,
    `Temporal dev server state: ${r.setup.temporalDb}${Object.keys(r.setup.sqlitePragmas).length ? `, pragmas ${JSON.stringify(r.setup.sqlitePragmas)}` : ''}` +
      `${r.setup.nodeFlags.length ? `; node flags ${r.setup.nodeFlags.join(' ')}` : ''}` +
      `${Object.keys(r.setup.serviceEnv).length ? `; service env ${JSON.stringify(r.setup.serviceEnv)}` : ''}`,
    '',
    ...table,
    '',
    r.checkFailures.length === 0
      ? 'Checks: every event accepted was processed, counts match.'
      : `CHECKS FAILED, the figures are void:\n${r.checkFailures.map((f) => `  - ${f}`).join('\n')}`,
  ].join('\n');
}
