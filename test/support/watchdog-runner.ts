/**
 * A stack runner in miniature, for the watchdog tests: starts the watchdog with the record file
 * and grace period it is given, starts each command of its arguments under `supervise` with it
 * (a first stop signal of SIGTERM), prints `{"reaper": pid, "children": [pid, ...]}` and waits
 * to be killed. With `--on-launcher-exit` it only waits for its launcher to go, says "gone" and
 * exits.
 */
import { spawn } from 'node:child_process';
import { supervise } from '../../src/dev/child-process';
import { onLauncherExit, startStackWatchdog } from '../../src/dev/stack-watchdog';

async function main(): Promise<void> {
  const [recordFile, grace, ...commands] = process.argv.slice(2);
  if (recordFile === '--on-launcher-exit') {
    await onLauncherExit(() => {
      console.log('gone');
      process.exit(0);
    }, 200);
    console.log('watching');
    setInterval(() => undefined, 1000);
    return;
  }
  const watchdog = await startStackWatchdog({ recordFile: recordFile!, graceSec: Number(grace) });
  const children = commands.map((command) => {
    const child = spawn('/bin/sh', ['-c', command], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    supervise(child, { watchdog, stopSignals: [['SIGTERM', 1000], ['SIGKILL']] });
    return child.pid;
  });
  // The record is written in the background; let it land before saying we are up.
  await new Promise((r) => setTimeout(r, 300));
  console.log(JSON.stringify({ reaper: watchdog.reaperPid, children }));
  setInterval(() => undefined, 1000);
}

void main();
