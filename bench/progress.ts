/**
 * A one-line progress bar on stderr, so stdout keeps only the table: redrawn in place on a
 * terminal; elsewhere (CI logs) a line per step, and at most one every 10 s otherwise.
 */
export class ProgressBar {
  private readonly tty = process.stderr.isTTY === true;
  private readonly startedAt = Date.now();
  private doneWeight = 0;
  private step = { label: '', weight: 0, fraction: 0, detail: '' };
  private lastPrint = 0;

  total = 0;

  /** Starts a step worth `weight` of the whole run, finishing the previous one. */
  begin(label: string, weight: number): void {
    this.doneWeight += this.step.weight;
    this.step = { label, weight, fraction: 0, detail: '' };
    this.render(true);
  }

  update(fraction: number, detail: string): void {
    this.step.fraction = Math.max(0, Math.min(1, fraction));
    this.step.detail = detail;
    this.render(false);
  }

  /** Prints a message above the bar; `render` false clears the bar for good. */
  note(message: string, render = true): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
    process.stderr.write(`${message}\n`);
    if (render) this.render(true);
  }

  elapsed(): string {
    const s = Math.floor((Date.now() - this.startedAt) / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  private render(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastPrint < (this.tty ? 100 : 10_000)) return;
    this.lastPrint = now;
    const { label, weight, fraction, detail } = this.step;
    const ratio = Math.min(1, (this.doneWeight + weight * fraction) / this.total) || 0;
    const filled = Math.round(ratio * 28);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(28 - filled)}]`;
    const pct = `${String(Math.floor(ratio * 100)).padStart(3)}%`;
    const line = `${bar} ${pct} ${this.elapsed()}  ${label}${detail ? `  ${detail}` : ''}`;
    if (this.tty)
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    else process.stderr.write(`${line}\n`);
  }
}
