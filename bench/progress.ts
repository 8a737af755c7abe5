/**
 * A one-line progress bar on stderr, so stdout keeps only the table. On a terminal the line is
 * redrawn in place; elsewhere (CI logs) a line is printed when the step changes, and at most
 * every 10 s otherwise, so logs stay short.
 */
export class ProgressBar {
  private readonly tty = process.stderr.isTTY === true;
  private readonly startedAt = Date.now();
  private doneWeight = 0;
  private step = { label: '', weight: 0, fraction: 0, detail: '' };
  private lastPrint = 0;

  constructor(private readonly totalWeight: number) {}

  /** Starts a step worth `weight` of the whole run, finishing the previous one. */
  begin(label: string, weight: number): void {
    this.doneWeight += this.step.weight;
    this.step = { label, weight, fraction: 0, detail: '' };
    this.render(true);
  }

  /** Reports progress within the current step (0..1) and a short detail such as counts. */
  update(fraction: number, detail = ''): void {
    this.step.fraction = Math.max(0, Math.min(1, fraction));
    this.step.detail = detail;
    this.render(false);
  }

  /** Prints a message above the bar. */
  note(message: string): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`${message}\n`);
    this.render(true);
  }

  /** Clears the bar for good. */
  finish(): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`bench finished in ${formatDuration(Date.now() - this.startedAt)}\n`);
  }

  private render(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastPrint < (this.tty ? 100 : 10_000)) return;
    this.lastPrint = now;
    const done = this.doneWeight + this.step.weight * this.step.fraction;
    const ratio = this.totalWeight > 0 ? Math.min(1, done / this.totalWeight) : 0;
    const width = 28;
    const filled = Math.round(ratio * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const pct = `${String(Math.floor(ratio * 100)).padStart(3)}%`;
    const line = `${bar} ${pct} ${formatDuration(now - this.startedAt)}  ${this.step.label}${this.step.detail ? `  ${this.step.detail}` : ''}`;
    if (this.tty) {
      const columns = process.stderr.columns ?? 120;
      process.stderr.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
    } else {
      process.stderr.write(`${line}\n`);
    }
  }
}

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
