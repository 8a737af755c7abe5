import { readFileSync } from 'node:fs';

export interface ProcessUsage {
  /** VmHWM: the kernel's own high-water mark of resident memory over the whole life, MiB. */
  peakRssMb: number;
  /** Highest sampled VmRSS during each phase, MiB. */
  byPhase: Record<string, number>;
  /** CPU seconds (user + system) during each phase: where the time of a figure went. */
  cpuSecondsByPhase: Record<string, number>;
}

/** Samples memory every 200 ms and charges CPU time to phases, from /proc (Linux only). */
export class ProcessSampler {
  private phase = 'start-up';
  private readonly usage: Record<string, ProcessUsage & { cpuAtPhaseStart: number }> = {};
  private readonly timer = setInterval(() => this.sample(), 200).unref();

  constructor(private readonly processes: Readonly<Record<string, number>>) {
    for (const name of Object.keys(processes)) {
      this.usage[name] = { peakRssMb: NaN, byPhase: {}, cpuSecondsByPhase: {}, cpuAtPhaseStart: 0 };
    }
  }

  /** Charges what follows to `phase`. */
  setPhase(phase: string): void {
    this.sample(true);
    this.phase = phase;
  }

  /** Call before the processes stop, while /proc still has them. */
  stop(): Record<string, ProcessUsage> {
    this.sample(true);
    clearInterval(this.timer);
    return Object.fromEntries(
      Object.entries(this.usage).map(([name, { peakRssMb, byPhase, cpuSecondsByPhase }]) => [
        name,
        { peakRssMb, byPhase, cpuSecondsByPhase },
      ]),
    );
  }

  private sample(chargeCpu = false): void {
    for (const [name, pid] of Object.entries(this.processes)) {
      const u = this.usage[name]!;
      const status = read(`/proc/${pid}/status`);
      if (status !== undefined) {
        const mb = (field: string) =>
          Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
        u.byPhase[this.phase] = Math.max(u.byPhase[this.phase] ?? 0, mb('VmRSS'));
        u.peakRssMb = mb('VmHWM');
      }
      const stat = chargeCpu ? read(`/proc/${pid}/stat`) : undefined;
      if (stat !== undefined) {
        // utime and stime, after the command name (which may hold spaces), in clock ticks of 10 ms.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const cpu = (Number(fields[11]) + Number(fields[12])) / 100;
        const phases = u.cpuSecondsByPhase;
        phases[this.phase] = (phases[this.phase] ?? 0) + cpu - u.cpuAtPhaseStart;
        u.cpuAtPhaseStart = cpu;
      }
    }
  }
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
