import { createWriteStream, type WriteStream } from 'node:fs';
import type { LogicalEvent } from './event-factory';

/** What the client knows about one logical event once an answer named its id. */
export interface AcceptedEvent {
  seq: number;
  valid: boolean;
  userId: string;
  /** Every id an answer gave for this event; more than one means a retry made a second event. */
  ids: Set<string>;
}

/** Request and retry counts, as the client saw them. */
export interface ClientFigures {
  requests: number;
  singleRequests: number;
  batchRequests: number;
  attempts: number;
  /** Attempts after the first, for network errors, timeouts and 5xx answers. */
  retries: number;
  /** Requests sent twice at once (only with idempotency keys), as an impatient client does. */
  hedged: number;
  /** Answers 200: a retried key was recognised and the original event returned. */
  replays: number;
  /** Requests given up after the retry budget; their events may or may not be stored. */
  abandoned: number;
  abandonedEvents: number;
  /** 4xx answers to requests the suite believes valid: a bug in the suite or the service. */
  rejected: number;
  rejectedSamples: string[];
  /** Logical events sent (each counted once, however often retried). */
  eventsSent: number;
  failuresByCause: Record<string, number>;
}

/**
 * The list of accepted events: every id a 202 (or an idempotent 200) answer named, with the
 * logical event it belongs to. Also appended to a file as it grows, for post-mortems.
 */
export class Ledger {
  readonly accepted = new Map<number, AcceptedEvent>();
  /** Which logical event each id was given for; an id named for two events is a mix-up. */
  readonly seqById = new Map<string, number>();
  readonly mixups: string[] = [];
  readonly client: ClientFigures = {
    requests: 0,
    singleRequests: 0,
    batchRequests: 0,
    attempts: 0,
    retries: 0,
    hedged: 0,
    replays: 0,
    abandoned: 0,
    abandonedEvents: 0,
    rejected: 0,
    rejectedSamples: [],
    eventsSent: 0,
    failuresByCause: {},
  };
  private readonly file: WriteStream;

  constructor(file: string) {
    this.file = createWriteStream(file, { flags: 'w' });
    this.file.on('error', () => undefined);
  }

  /** Records that an answer named `id` for `event`. */
  accept(event: LogicalEvent, userId: string, id: string, status: number): void {
    const known = this.seqById.get(id);
    if (known !== undefined && known !== event.seq) {
      this.mixups.push(`${id} answered for events ${known} and ${event.seq}`);
    }
    this.seqById.set(id, event.seq);
    let entry = this.accepted.get(event.seq);
    if (!entry) {
      entry = { seq: event.seq, valid: event.valid, userId, ids: new Set() };
      this.accepted.set(event.seq, entry);
    }
    entry.ids.add(id);
    this.file.write(
      `${JSON.stringify({ seq: event.seq, id, valid: event.valid, user: userId, status })}\n`,
    );
  }

  countFailure(cause: string): void {
    this.client.failuresByCause[cause] = (this.client.failuresByCause[cause] ?? 0) + 1;
  }

  /** Every accepted id. */
  acceptedIds(): string[] {
    return [...this.seqById.keys()];
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.file.end(resolve));
  }
}
