import type { JsonObject } from './payload-rules';

/**
 * What one worker holds at most, in characters of JSON text and in payloads. A parsed payload
 * takes several times its text in heap, so about 40 MB at worst: entries stay only when the
 * next step runs elsewhere, since the usual run takes its own at once.
 */
export const ACCEPTED_PAYLOAD_LIMITS = { maxBytes: 4 * 1024 * 1024, maxEntries: 2_000 };

interface Accepted {
  payload: JsonObject;
  userId: string;
  bytes: number;
}

/**
 * Payloads `validatePayload` accepted, handed to `normalizePayload` of the same run on this
 * worker, so a run reads and parses its payload once: workflow history carries ids only, and
 * the steps usually run back to back on one worker (local activities). A payload never changes
 * once stored, so what is held cannot go stale. Bounded in bytes and entries, the oldest dropped
 * first; a step that finds nothing (another worker, a restart, a retry after the hand-off was
 * taken) reads the row as before.
 */
export class AcceptedPayloads {
  private readonly held = new Map<string, Accepted>();
  private bytes = 0;

  constructor(private readonly limits = ACCEPTED_PAYLOAD_LIMITS) {}

  put(runKey: string, accepted: Accepted): void {
    this.drop(runKey);
    if (accepted.bytes > this.limits.maxBytes) return;
    this.held.set(runKey, accepted);
    this.bytes += accepted.bytes;
    for (const key of this.held.keys()) {
      if (this.bytes <= this.limits.maxBytes && this.held.size <= this.limits.maxEntries) break;
      this.drop(key);
    }
  }

  /** The payload put under `runKey`, once: a second take finds nothing. */
  take(runKey: string): Omit<Accepted, 'bytes'> | undefined {
    const accepted = this.held.get(runKey);
    if (accepted) this.drop(runKey);
    return accepted;
  }

  /** Payloads held now; for tests. */
  get size(): number {
    return this.held.size;
  }

  private drop(runKey: string): void {
    const accepted = this.held.get(runKey);
    if (!accepted) return;
    this.held.delete(runKey);
    this.bytes -= accepted.bytes;
  }
}
