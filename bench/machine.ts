import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** What the figures were measured on; they mean little without it. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  ramGiB: number;
  /** 1-minute load average when the run started: other users of a shared machine show here. */
  loadAverageAtStart: number;
  node: string;
  temporalCli: string;
  postgres: string;
}

/** Describes this machine; `temporalCli` and `postgres` are the servers' version strings. */
export async function describeMachine(
  temporalExecutable: string,
  postgres: string,
): Promise<MachineInfo> {
  return {
    nproc: os.availableParallelism(),
    cpuModel: cpuModel(),
    ramGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    loadAverageAtStart: os.loadavg()[0]!,
    node: process.version,
    temporalCli: await new Promise<string>((resolve) =>
      execFile(temporalExecutable, ['--version'], (err, stdout) =>
        resolve(err ? 'unknown' : stdout.trim()),
      ),
    ),
    postgres,
  };
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) return match[1]!.trim();
  } catch {
    // Not Linux: fall back to what Node knows.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}
