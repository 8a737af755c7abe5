import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { StackError } from '../../src/dev/child-process';
import { commandOf, stopLeftovers } from '../../src/dev/stack-watchdog';

/**
 * What a runner starts stops when the runner dies, however it dies: the reaper stops it within
 * seconds, and should the reaper die too, the next run stops it from the record. Real processes
 * throughout: a runner (test/support/watchdog-runner.ts) and `sleep`s it supervises.
 */
const RUNNER = path.join(__dirname, '../support/watchdog-runner.ts');
let dir: string;
const started: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'watchdog-'));
});
afterEach(async () => {
  for (const child of started.splice(0)) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Starts a runner; resolves with its process and what it printed first. */
async function runner(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', RUNNER, ...args],
    {
      cwd: path.join(__dirname, '../..'),
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  started.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`runner exited with ${code}`)));
  });
  return { child, line };
}

const alive = async (pid: number) => (await commandOf(pid)) !== null;

/** Milliseconds until none of `pids` runs, or a failure after `ms`. */
async function goneWithin(ms: number, pids: number[]): Promise<number> {
  const start = Date.now();
  for (;;) {
    const running = [];
    for (const pid of pids) if (await alive(pid)) running.push(pid);
    if (running.length === 0) return Date.now() - start;
    if (Date.now() - start > ms)
      throw new Error(`still running after ${ms} ms: ${running.join(', ')}`);
    await delay(100);
  }
}

it('stops what a runner started within seconds of the runner being SIGKILLed', async () => {
  const record = path.join(dir, 'stack.json');
  const { child, line } = await runner([
    record,
    '2',
    'exec sleep 600',
    // Ignores SIGTERM: the reaper must come back with SIGKILL after the grace period.
    "trap '' TERM; exec sleep 601",
  ]);
  const { reaper, children } = JSON.parse(line) as { reaper: number; children: number[] };
  for (const pid of [reaper, ...children]) expect(await alive(pid)).toBe(true);
  child.kill('SIGKILL');
  const took = await goneWithin(8_000, [...children, reaper]);
  expect(took).toBeLessThan(8_000);
});

it('lets the next run stop what a runner left when its reaper was killed too', async () => {
  const record = path.join(dir, 'stack.json');
  // Runs another program after it was recorded, as a shim for the `temporal` CLI does.
  const { child, line } = await runner([record, '2', 'sleep 0.2; exec sleep 602']);
  const { reaper, children } = JSON.parse(line) as { reaper: number; children: number[] };
  process.kill(reaper, 'SIGKILL');
  child.kill('SIGKILL');
  await goneWithin(5_000, [child.pid!, reaper]);
  await delay(300);
  expect(await commandOf(children[0]!)).toBe('sleep 602');

  const said: string[] = [];
  await stopLeftovers(record, (m) => said.push(m));
  expect(await alive(children[0]!)).toBe(false);
  expect(said).toEqual([expect.stringMatching(/left running: pid \d+ \(.*sleep 602\)/)]);
  expect(existsSync(record)).toBe(false);
});

it('refuses to stop the processes of a run that is still going', async () => {
  const record = path.join(dir, 'stack.json');
  const { line } = await runner([record, '2', 'exec sleep 603']);
  const { children } = JSON.parse(line) as { children: number[] };
  await expect(stopLeftovers(record, () => undefined)).rejects.toThrow(StackError);
  await expect(stopLeftovers(record, () => undefined)).rejects.toThrow(
    /Another `npm start` \(pid \d+\) is running from this directory/,
  );
  expect(await alive(children[0]!)).toBe(true);
});

it('leaves alone a recorded pid that another process has now', async () => {
  const record = path.join(dir, 'stack.json');
  await writeFile(
    record,
    JSON.stringify({
      runner: { pid: 999_999_999, started: '1', command: 'gone' },
      processes: [
        { pid: process.pid, started: '1', command: 'temporal server start-dev', signal: 'SIGTERM' },
      ],
    }),
  );
  const said: string[] = [];
  await stopLeftovers(record, (m) => said.push(m));
  expect(said).toEqual([]);
  expect(existsSync(record)).toBe(false);
});

it('tells a runner that npm, above the shell it runs scripts through, was killed', async () => {
  // As npm runs `npm start`: npm, then `sh -c <script>`, then the runner; only npm is killed.
  const npm = spawn(
    process.execPath,
    [
      '-e',
      `require('child_process').spawn('/bin/sh', ['-c', process.argv[1]], { stdio: 'inherit' });
       setInterval(() => {}, 1000);`,
      `"${process.execPath}" -r ts-node/register/transpile-only "${RUNNER}" --on-launcher-exit`,
    ],
    {
      cwd: path.join(__dirname, '../..'),
      env: { ...process.env, npm_lifecycle_event: 'start' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  started.push(npm);
  let out = '';
  npm.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  while (!out.includes('watching')) await delay(50);
  npm.kill('SIGKILL');
  const start = Date.now();
  while (!out.includes('gone') && Date.now() - start < 5_000) await delay(50);
  expect(out).toContain('gone');
});
