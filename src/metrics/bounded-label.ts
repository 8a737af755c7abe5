/** The label value every value past the cap is reported under. */
export const OTHER_LABEL = 'other';

/**
 * Keeps a client-chosen string usable as a Prometheus label. Each distinct label value is a time
 * series kept forever by the process and by Prometheus, and `event_type` is whatever clients
 * send, so the first `max` values seen are reported as they are and every later one as `other`.
 * First come, first kept: the common types show up within seconds of start, and a flood of
 * random types afterwards costs one series, not thousands.
 */
export class BoundedLabel {
  private readonly admitted = new Set<string>();

  constructor(readonly max: number) {}

  /** The label value to report for `value`. */
  valueOf(value: string): string {
    if (this.admitted.has(value)) return value;
    if (this.admitted.size >= this.max || value === OTHER_LABEL) return OTHER_LABEL;
    this.admitted.add(value);
    return value;
  }
}
