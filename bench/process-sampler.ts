import { readFileSync } from 'node:fs';

/** Peak memory and CPU use of one process. */
export interface ProcessUsage {
  /** VmHWM: the kernel's own high-water mark of resident memory since the process started, MiB. */
  peakRssMb: number;
  /** Highest sampled VmRSS during each phase of the run, MiB. */
  byPhase: Record<string, number>;
  /** CPU seconds (user + system) spent during each phase: where the time of a figure went. */
  cpuSecondsByPhase: Record<string, number>;
}

const SAMPLE_INTERVAL_MS = 200;

/**
 * Samples VmRSS of the given processes from /proc every 200 ms and keeps the highest value per
 * phase, reads VmHWM (exact, whole life) at the end, and charges CPU time to phases. Linux only,
 * like the rest of the bench.
 */
export class ProcessSampler {
  private phase = 'start-up';
  private readonly peaks = new Map<string, Record<string, number>>();
  private readonly cpu = new Map<string, Record<string, number>>();
  private readonly cpuAtPhaseStart = new Map<string, number>();
  private readonly hwm = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly processes: Readonly<Record<string, number>>) {
    for (const name of Object.keys(processes)) {
      this.peaks.set(name, {});
      this.cpu.set(name, {});
      this.cpuAtPhaseStart.set(name, 0);
    }
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Attributes the following samples to `name` (one of the measurements). */
  setPhase(name: string): void {
    this.sample();
    this.chargeCpu();
    this.phase = name;
  }

  /** Stops sampling; call before the processes stop, while /proc still has them. */
  stop(): Record<string, ProcessUsage> {
    this.sample();
    this.chargeCpu();
    clearInterval(this.timer);
    const out: Record<string, ProcessUsage> = {};
    for (const [name, byPhase] of this.peaks) {
      out[name] = {
        peakRssMb: this.hwm.get(name) ?? Number.NaN,
        byPhase,
        cpuSecondsByPhase: this.cpu.get(name)!,
      };
    }
    return out;
  }

  private chargeCpu(): void {
    for (const [name, pid] of Object.entries(this.processes)) {
      const now = readCpuSeconds(pid);
      if (now === undefined) continue;
      const byPhase = this.cpu.get(name)!;
      byPhase[this.phase] = (byPhase[this.phase] ?? 0) + now - this.cpuAtPhaseStart.get(name)!;
      this.cpuAtPhaseStart.set(name, now);
    }
  }

  private sample(): void {
    for (const [name, pid] of Object.entries(this.processes)) {
      const status = readStatus(pid);
      if (!status) continue;
      const byPhase = this.peaks.get(name)!;
      byPhase[this.phase] = Math.max(byPhase[this.phase] ?? 0, status.rssMb);
      this.hwm.set(name, status.hwmMb);
    }
  }
}

function readStatus(pid: number): { rssMb: number; hwmMb: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) : Number.NaN;
  };
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux the bench runs on. */
const CLOCK_TICKS = 100;

function readCpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which may itself contain spaces, in parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
