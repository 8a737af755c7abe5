import type { Logger } from '../logger';
import type { EventWorkflowStarter } from '../temporal/event-workflows';

/** How often admission asks Temporal how many workflows run on the task queue. */
const RUNNING_COUNT_REFRESH_MS = 1000;
/**
 * How long a start may take to show in Temporal's count (its visibility store is eventually
 * consistent: up to a few hundred milliseconds on a busy dev server). Starts made this long
 * before a count was asked are added to it, so a lagging count never lets admission overshoot.
 */
const VISIBILITY_LAG_MS = 1000;

/** Workflows running on the task queue as admission counts them. */
export interface RunningCount {
  /** Asks Temporal for a new count, in the background, unless one is under way or fresh. */
  refresh(now: number): void;
  /** Whether Temporal has answered once: nothing is admitted before its first count. */
  readonly known: boolean;
  /** Temporal's last count and the starts this process made since. */
  current(): number;
  /** A start of this process that Temporal accepted, at `at`. */
  started(at: number): void;
  /** Stops asking and waits for the count under way, whose connection closes after. */
  stop(): Promise<void>;
}

/**
 * Temporal's own count of running workflows, single events and batches alike, asked at most
 * once a second whatever the backlog, plus the starts made since (and in the second before,
 * since the count lags the starts a little). A run counts from its start until it closes,
 * however it closes; several API processes each add only their own recent starts.
 */
export function createRunningCount(
  workflows: Pick<EventWorkflowStarter, 'countRunning'>,
  logger: Logger,
): RunningCount {
  /** Temporal's last count of running workflows, and when it was asked. */
  let counted = { running: 0, askedAt: 0 };
  let counting: Promise<void> | undefined;
  let lastAsked = 0;
  let failing = false;
  let stopped = false;
  /** When this process made each start not yet surely in `counted`, oldest first. */
  const recentStarts: number[] = [];

  return {
    refresh(now) {
      if (stopped || counting || now - lastAsked < RUNNING_COUNT_REFRESH_MS) return;
      lastAsked = now;
      const askedAt = now;
      counting = workflows
        .countRunning()
        .then(
          (running) => {
            counted = { running, askedAt };
            if (failing) logger.info('counting running workflows succeeds again');
            failing = false;
          },
          (err: unknown) => {
            // The last count and the starts since stand meanwhile: admission stays conservative.
            if (!failing) logger.warn({ err }, 'counting running workflows failed; retrying');
            failing = true;
          },
        )
        .finally(() => (counting = undefined));
    },
    get known() {
      return counted.askedAt !== 0;
    },
    current() {
      const countedFrom = counted.askedAt - VISIBILITY_LAG_MS;
      while (recentStarts.length > 0 && recentStarts[0]! < countedFrom) recentStarts.shift();
      return counted.running + recentStarts.length;
    },
    started(at) {
      recentStarts.push(at);
    },
    async stop() {
      stopped = true;
      await counting;
    },
  };
}
