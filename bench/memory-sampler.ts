import { readFileSync } from 'node:fs';

/** Peak memory of one process, in MiB. */
export interface MemoryPeaks {
  /** VmHWM: the kernel's own high-water mark of resident memory since the process started. */
  peakRssMb: number;
  /** Highest sampled VmRSS during each phase of the run. */
  byPhase: Record<string, number>;
}

const SAMPLE_INTERVAL_MS = 200;

/**
 * Samples VmRSS of the given processes from /proc every 200 ms and keeps the highest value per
 * phase, and reads VmHWM (exact, whole life) at the end. Linux only, like the rest of the bench.
 */
export class MemorySampler {
  private phase = 'start-up';
  private readonly peaks = new Map<string, Record<string, number>>();
  private readonly hwm = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly processes: Readonly<Record<string, number>>) {
    for (const name of Object.keys(processes)) this.peaks.set(name, {});
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Attributes the following samples to `name` (one of the measurements). */
  setPhase(name: string): void {
    this.sample();
    this.phase = name;
  }

  /** Stops sampling; call before the processes stop, while /proc still has them. */
  stop(): Record<string, MemoryPeaks> {
    this.sample();
    clearInterval(this.timer);
    const out: Record<string, MemoryPeaks> = {};
    for (const [name, byPhase] of this.peaks) {
      out[name] = { peakRssMb: this.hwm.get(name) ?? Number.NaN, byPhase };
    }
    return out;
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
