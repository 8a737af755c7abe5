/**
 * `npm run bench:chunk-sweep -- [--events 50,100,250,500] [--bytes 4194304] [bench options]`:
 * runs measurement c once per chunk bound (BATCH_CHUNK_MAX_EVENTS x BATCH_CHUNK_MAX_BYTES), each
 * with a fresh stack, and prints batch throughput, latency, the worker's peak RSS and its CPU per
 * event side by side. It is how the default chunk bounds were chosen (see the README). Options it
 * does not know (`--quick`, `--database-name`, ...) go to every `npm run bench` run.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './child-process';
import type { BenchResults } from './results';

interface SweepPoint {
  chunkEvents: number;
  chunkBytes: number;
  eventsPerSec?: number;
  latencyP50Ms?: number;
  latencyP99Ms?: number;
  acceptP50Ms?: number;
  workerPeakRssMb?: number;
  workerCpuMsPerEvent?: number;
  load?: number;
  failure?: string;
}

async function main(): Promise<void> {
  const { values, tokens } = parseArgs({
    options: {
      events: { type: 'string', default: '50,100,250,500' },
      bytes: { type: 'string', default: String(4 * 1024 * 1024) },
    },
    strict: false,
    tokens: true,
  });
  const list = (s: unknown) =>
    String(s)
      .split(',')
      .map((x) => Number(x.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
  const events = list(values.events);
  const bytes = list(values.bytes);
  // Everything but our own two options is passed through to the bench.
  const passThrough = process.argv
    .slice(2)
    .filter((_, i) => !tokens.some((t) => t.kind === 'option' && mine(t.name) && covers(t, i)));

  const points: SweepPoint[] = [];
  for (const chunkBytes of bytes) {
    for (const chunkEvents of events) {
      const args = [
        ...passThrough,
        '--only',
        'c',
        '--env',
        `BATCH_CHUNK_MAX_EVENTS=${chunkEvents}`,
        '--env',
        `BATCH_CHUNK_MAX_BYTES=${chunkBytes}`,
        '--label',
        `chunk-sweep ${chunkEvents} events, ${chunkBytes} bytes`,
      ];
      console.log(`chunks of at most ${chunkEvents} events and ${chunkBytes} bytes`);
      const code = await runBench(args);
      points.push(
        code === 0
          ? await readPoint(chunkEvents, chunkBytes)
          : {
              chunkEvents,
              chunkBytes,
              failure: `bench exited ${code}`,
            },
      );
    }
  }
  console.log(formatSweep(points));
}

const mine = (name: string) => name === 'events' || name === 'bytes';

/** Whether argv index `i` (relative to argv.slice(2)) belongs to option token `t`. */
function covers(t: { index: number; inlineValue?: boolean; value?: string }, i: number): boolean {
  return i === t.index || (t.inlineValue === false && t.value !== undefined && i === t.index + 1);
}

function runBench(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'bench', 'run.ts'), ...args],
      { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function readPoint(chunkEvents: number, chunkBytes: number): Promise<SweepPoint> {
  const file = path.join(ROOT, 'bench', 'results', 'latest.json');
  const r = JSON.parse(await readFile(file, 'utf8')) as BenchResults;
  const c = r.c && 'median' in r.c ? r.c.median : undefined;
  const worker = r.f.worker;
  const cpuSeconds = worker?.cpuSecondsByPhase.c;
  const events = r.workByPhase.c;
  return {
    chunkEvents,
    chunkBytes,
    eventsPerSec: c?.eventsPerSec,
    latencyP50Ms: c?.latencyP50Ms,
    latencyP99Ms: c?.latencyP99Ms,
    acceptP50Ms: c?.acceptP50Ms,
    workerPeakRssMb: worker?.peakRssMb,
    workerCpuMsPerEvent:
      cpuSeconds !== undefined && events ? (cpuSeconds * 1000) / events : undefined,
    load: r.machine.loadAverageAtStart,
  };
}

function formatSweep(points: SweepPoint[]): string {
  const n = (v: number | undefined, digits = 0) =>
    v === undefined ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: digits });
  const rows = points.map((p) =>
    p.failure
      ? `| ${p.chunkEvents} | ${p.chunkBytes} | ${p.failure} | | | | |`
      : `| ${p.chunkEvents} | ${p.chunkBytes} | ${n(p.eventsPerSec)} | ${n(p.latencyP50Ms)} / ${n(p.latencyP99Ms)} | ${n(p.workerPeakRssMb)} | ${n(p.workerCpuMsPerEvent, 2)} | ${n(p.load, 1)} |`,
  );
  return [
    '',
    '| chunk events | chunk bytes | events/s | latency p50 / p99 ms | worker peak RSS MB | worker CPU ms/event | load at start |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
