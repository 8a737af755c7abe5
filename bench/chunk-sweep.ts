// `npm run bench:chunk-sweep -- [--events 50,100,250] [--bytes N] [bench options]`: measurement c
// once per chunk bound, each on a fresh stack, side by side; how the defaults were chosen.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT, spawnEntryPoint } from '../src/dev/child-process';
import { runMain } from '../src/run-main';
import type { BenchResults } from './report';

async function main(): Promise<void> {
  const own: Record<string, string> = { events: '50,100,250,500', bytes: String(4 * 1024 * 1024) };
  const passThrough: string[] = [];
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const [, name, inline] = /^--(events|bytes)(?:=(.*))?$/.exec(args[i]!) ?? [];
    if (name) own[name] = inline ?? args[++i] ?? '';
    else passThrough.push(args[i]!);
  }
  const list = (s: string) =>
    s
      .split(',')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);

  const n = (v: number | undefined, digits = 0) =>
    v === undefined ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: digits });
  const rows: string[] = [];
  for (const bytes of list(own.bytes!)) {
    for (const events of list(own.events!)) {
      console.log(`chunks of at most ${events} events and ${bytes} bytes`);
      const label = `chunk-sweep ${events} events, ${bytes} bytes`;
      const env = [`BATCH_CHUNK_MAX_EVENTS=${events}`, `BATCH_CHUNK_MAX_BYTES=${bytes}`];
      const args = [...passThrough, '--only', 'c', '--label', label];
      args.push(...env.flatMap((e) => ['--env', e]));
      const bench = spawnEntryPoint('bench/run.ts', {
        env: process.env,
        args,
        inheritOutput: true,
      });
      const { code } = await bench.exited;
      if (code !== 0) {
        rows.push(`| ${events} | ${bytes} | bench exited ${code} | | | | |`);
        continue;
      }
      const file = path.join(PROJECT_ROOT, 'bench', 'results', 'latest.json');
      const r = JSON.parse(await readFile(file, 'utf8')) as BenchResults;
      const c = r.figures.c?.median;
      const worker = r.f.worker;
      const cpu = worker?.cpuSecondsByPhase.c;
      const perEvent =
        cpu !== undefined && r.workByPhase.c ? (cpu * 1000) / r.workByPhase.c : undefined;
      rows.push(
        `| ${events} | ${bytes} | ${n(c?.eventsPerSec)} | ${n(c?.latencyP50Ms)} / ${n(c?.latencyP99Ms)} | ${n(worker?.peakRssMb)} | ${n(perEvent, 2)} | ${n(r.machine.loadAverageAtStart, 1)} |`,
      );
    }
  }
  console.log(
    [
      '',
      '| chunk events | chunk bytes | events/s | latency p50 / p99 ms | worker peak RSS MB | worker CPU ms/event | load at start |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
    ].join('\n'),
  );
}

runMain(main);
