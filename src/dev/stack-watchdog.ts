import { execFile as execFileCallback, spawn } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { StackError, type Watchdog } from './child-process';

const execFile = promisify(execFileCallback);

export interface StackWatchdog extends Watchdog {
  /** The reaper's pid (see `stack-reaper.sh`). */
  readonly reaperPid: number;
  /** Everything was stopped in order: the reaper exits, the record is removed. */
  close(): Promise<void>;
}

/** What the record file holds: the runner, and what it started that is still running. */
interface StackRecord {
  runner: RecordedProcess;
  processes: RecordedProcess[];
}

interface RecordedProcess {
  pid: number;
  /**
   * When it started, by the system's clock: what tells it from a later process given the same
   * pid. Not its command line, which changes when it execs another program (a shim that runs
   * the real `temporal` does); empty while not yet known.
   */
  started: string;
  /** Its command line when it was recorded, to say what is stopped. */
  command: string;
  signal?: NodeJS.Signals;
}

const REAPER_SCRIPT = path.join(__dirname, 'stack-reaper.sh');

/**
 * Makes what a runner (`npm start`) starts stop when the runner dies, however it dies, with two
 * guards:
 * - a reaper (`stack-reaper.sh`, a shell in a session of its own) that stops every watched
 *   process, once the runner is gone, within `graceSec` seconds: the pipe it reads from the
 *   runner ends when the runner exits, SIGKILL and a closed terminal included;
 * - a record of the runner and its processes in `recordFile`, from which the next run stops
 *   whatever is still running (`stopLeftovers`), should the reaper have been killed too.
 */
export async function startStackWatchdog(opts: {
  recordFile: string;
  graceSec?: number;
}): Promise<StackWatchdog> {
  const reaper = spawn('/bin/sh', [REAPER_SCRIPT, String(opts.graceSec ?? 15)], {
    detached: true,
    cwd: '/',
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  // Neither keeps the runner alive; the pipe closes when the runner exits.
  reaper.unref();
  const pipe = reaper.stdin as unknown as Socket;
  pipe.unref();
  pipe.on('error', () => undefined);
  const tell = (line: string): void => {
    if (!pipe.destroyed) pipe.write(`${line}\n`);
  };

  const record: StackRecord = {
    runner: await identify(process.pid),
    processes: [],
  };
  await mkdir(path.dirname(opts.recordFile), { recursive: true });
  // Writes one after the other, each whole (renamed into place), so a crash leaves a record.
  let writes = Promise.resolve();
  const save = (): void => {
    const text = JSON.stringify(record);
    writes = writes.then(async () => {
      const partial = `${opts.recordFile}.partial`;
      await writeFile(partial, text);
      await rename(partial, opts.recordFile);
    });
    writes = writes.catch(() => undefined);
  };
  save();

  return {
    reaperPid: reaper.pid!,
    watch(pid, signal) {
      tell(`watch ${pid} ${signal.replace(/^SIG/, '')}`);
      const entry: RecordedProcess = { pid, started: '', command: '', signal };
      record.processes.push(entry);
      void identify(pid).then((known) => {
        Object.assign(entry, { started: known.started, command: known.command });
        save();
      });
    },
    forget(pid) {
      tell(`forget ${pid}`);
      record.processes = record.processes.filter((p) => p.pid !== pid);
      save();
    },
    async close() {
      pipe.end();
      await writes;
      await rm(opts.recordFile, { force: true });
    },
  };
}

/**
 * Stops what an earlier run recorded in `recordFile` and left running (its runner was killed,
 * and its reaper too), so that this run finds its ports free; says what it stops through `log`.
 *
 * @throws {@link StackError} when that run's runner is still alive: another `npm start` runs
 *   from this directory, and stopping its processes would pull them from under it
 */
export async function stopLeftovers(recordFile: string, log: (m: string) => void): Promise<void> {
  const text = await readFile(recordFile, 'utf8').catch(() => null);
  if (text === null) return;
  let record: StackRecord;
  try {
    record = JSON.parse(text) as StackRecord;
  } catch {
    await rm(recordFile, { force: true });
    return;
  }
  if (await isStill(record.runner)) {
    throw new StackError(
      `Another \`npm start\` (pid ${record.runner.pid}) is running from this directory. ` +
        `Stop it first (Ctrl+C in its terminal, or kill ${record.runner.pid}).`,
    );
  }
  const left = [];
  for (const p of record.processes) if (await isStill(p)) left.push(p);
  for (const p of left) {
    log(`Stopping what an earlier run left running: pid ${p.pid} (${p.command.slice(0, 80)})`);
    signal(p.pid, p.signal ?? 'SIGTERM');
  }
  const deadline = Date.now() + 10_000;
  for (const p of left) {
    while ((await isStill(p)) && Date.now() < deadline) await delay(200);
    if (await isStill(p)) signal(p.pid, 'SIGKILL');
  }
  for (const p of left) while (await isStill(p)) await delay(100);
  await rm(recordFile, { force: true });
}

/** Whether the recorded process still runs: the same pid, started at the same time. */
async function isStill(p: RecordedProcess): Promise<boolean> {
  return p.started !== '' && (await startedAt(p.pid)) === p.started;
}

async function identify(pid: number): Promise<RecordedProcess> {
  const [started, command] = await Promise.all([startedAt(pid), commandOf(pid)]);
  return { pid, started: started ?? '', command: command ?? '' };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone meanwhile.
  }
}

/**
 * Calls `gone` once whoever launched this process has exited: its parent and, under `npm
 * start`, npm itself, which runs a script through a shell that stays when npm is killed. A
 * process whose parent dies is not told (no signal, a new parent), so this looks every
 * `intervalMs`.
 */
export async function onLauncherExit(gone: () => void, intervalMs = 1_000): Promise<void> {
  const parent = process.ppid;
  const launchers: RecordedProcess[] = [await identify(parent)];
  const underNpm = process.env.npm_lifecycle_event !== undefined;
  if (underNpm && /^(\S*\/)?(sh|bash|dash|zsh)\s+-c\s/.test(launchers[0]!.command)) {
    const npm = await parentOf(parent);
    if (npm !== null) launchers.push(await identify(npm));
  }
  const timer = setInterval(() => {
    void (async () => {
      const alive = await Promise.all(
        launchers.map(async (l) => (l.pid === parent ? process.ppid === parent : isStill(l))),
      );
      if (alive.every(Boolean)) return;
      clearInterval(timer);
      gone();
    })();
  }, intervalMs);
  timer.unref();
}

/** The parent of a running process, or null. */
async function parentOf(pid: number): Promise<number | null> {
  const ppid = Number(
    process.platform === 'linux'
      ? (await procStat(pid))?.[1]
      : (await execFile('ps', ['-o', 'ppid=', '-p', String(pid)]).catch(() => null))?.stdout.trim(),
  );
  return Number.isInteger(ppid) && ppid > 0 ? ppid : null;
}

/**
 * When a running process started (clock ticks since boot on Linux, `ps`'s start time
 * elsewhere), or null if there is none: an exited one waiting to be reaped counts as none.
 */
async function startedAt(pid: number): Promise<string | null> {
  if (process.platform === 'linux') {
    const fields = await procStat(pid);
    return fields && fields[0] !== 'Z' ? (fields[19] ?? null) : null;
  }
  const ps = await execFile('ps', ['-o', 'stat=,lstart=', '-p', String(pid)]).catch(() => null);
  const [state, ...start] = (ps?.stdout.trim() ?? '').split(/\s+/);
  return state && !state.startsWith('Z') ? start.join(' ') : null;
}

/** /proc/<pid>/stat from its third field (the state) on, or null. */
async function procStat(pid: number): Promise<string[] | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  // "pid (command) state ppid ...": the command may hold spaces and parentheses.
  return stat === null ? null : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * The command line of a running process, or null if there is none (an exited one waiting to
 * be reaped counts as none): /proc where there is one, `ps` elsewhere.
 */
export async function commandOf(pid: number): Promise<string | null> {
  const command =
    process.platform === 'linux'
      ? (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ')
      : ((await execFile('ps', ['-o', 'command=', '-p', String(pid)]).catch(() => null))?.stdout ??
        '');
  return command.trim() === '' ? null : command.trim();
}
