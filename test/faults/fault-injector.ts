import type { Pool } from 'pg';
import { elapsedMs, pollUntil, say, sleep } from './clock';
import type { FaultKind } from './plan';
import type { PostgresControl } from './postgres-control';
import type { Random } from './random';
import type { ServiceProcess } from './service-process';
import type { FaultyNetwork } from './faulty-network';
import type { TemporalControl } from './temporal-control';

/** What the injector can break. */
export interface FaultTargets {
  /** Every API process; a kill hits one picked at random. */
  apis: ServiceProcess[];
  /** Every worker process; likewise. */
  workers: ServiceProcess[];
  temporal: TemporalControl;
  postgres: PostgresControl;
  /** Between the service processes and PostgreSQL. */
  network: FaultyNetwork;
  /** Straight to PostgreSQL, to see what the worker is doing before killing it. */
  db: Pool;
}

/** One injected fault. */
export interface FaultRecord {
  n: number;
  kind: FaultKind;
  /** Suite clock when it struck. */
  atSeconds: number;
  /** Until the broken part was back (ready, for processes). */
  outageSeconds: number;
  detail: string;
  error?: string;
}

/**
 * Injects `kinds` one after the other, spread over `spreadSeconds`, while load runs: each fault
 * strikes, lasts a few seconds, and is repaired before the next. Slots are fixed in advance
 * (with jitter), so a slow recovery delays later faults rather than piling them up.
 */
export async function injectFaults(opts: {
  kinds: FaultKind[];
  spreadSeconds: number;
  targets: FaultTargets;
  random: Random;
}): Promise<FaultRecord[]> {
  const { kinds, targets, random } = opts;
  const records: FaultRecord[] = [];
  const start = elapsedMs();
  // The first slot is left to warm-up: the service is under load before anything breaks.
  const slotMs = (opts.spreadSeconds * 1000) / (kinds.length + 1);
  for (const [i, kind] of kinds.entries()) {
    const due = start + slotMs * (i + 1) + (random.next() - 0.5) * slotMs * 0.4;
    await sleep(Math.max(due - elapsedMs(), 2_000));
    const record: FaultRecord = {
      n: i + 1,
      kind,
      atSeconds: 0,
      outageSeconds: 0,
      detail: '',
    };
    const struck = elapsedMs();
    try {
      record.detail = await strike(kind, targets, random, () => {
        record.atSeconds = round(elapsedMs() / 1000);
      });
    } catch (err) {
      record.error = err instanceof Error ? err.message : String(err);
      say(`fault ${record.n} (${kind}) went wrong: ${record.error}; repairing`);
      await repairAll(targets);
    }
    if (record.atSeconds === 0) record.atSeconds = round(struck / 1000);
    record.outageSeconds = round((elapsedMs() - record.atSeconds * 1000) / 1000);
    records.push(record);
    say(
      `fault ${record.n}/${kinds.length} ${kind}: ${record.detail || 'failed'} (back after ${record.outageSeconds.toFixed(1)} s)`,
    );
  }
  return records;
}

/** Breaks one thing and repairs it; calls `struck` at the moment of breaking. */
async function strike(
  kind: FaultKind,
  t: FaultTargets,
  random: Random,
  struck: () => void,
): Promise<string> {
  switch (kind) {
    case 'worker-kill': {
      // Aim for the middle of activities: wait (briefly) until the worker has events in hand.
      const busy = await pollUntil(
        async () => {
          const n = await countProcessing(t.db);
          return n > 0 ? n : undefined;
        },
        15_000,
        100,
      );
      // Only drawn with several, so a seed of a one-process run replays as it did.
      const n = t.workers.length > 1 ? random.int(0, t.workers.length - 1) : 0;
      const worker = t.workers[n]!;
      const pid = worker.pid;
      struck();
      await worker.killAndRestart(random.int(0, 2_000));
      return `kill -9 worker ${which(n, t.workers)}pid ${pid} with ${busy ?? 0} events processing; restarted`;
    }
    case 'api-kill': {
      const n = t.apis.length > 1 ? random.int(0, t.apis.length - 1) : 0;
      const api = t.apis[n]!;
      const pid = api.pid;
      struck();
      await api.killAndRestart(random.int(0, 1_000));
      return `kill -9 API ${which(n, t.apis)}pid ${pid}; restarted`;
    }
    case 'temporal-term':
    case 'temporal-kill': {
      const signal = kind === 'temporal-kill' ? 'SIGKILL' : 'SIGTERM';
      // A crash stays down long enough for the outbox relay to find Temporal unreachable for
      // several passes; a graceful stop is a quick restart.
      const downMs =
        kind === 'temporal-kill' ? random.int(8_000, 20_000) : random.int(1_000, 5_000);
      struck();
      await t.temporal.down(signal);
      await sleep(downMs);
      await t.temporal.up();
      return `${signal} Temporal dev server, down ${(downMs / 1000).toFixed(1)} s, restarted on its state file`;
    }
    case 'postgres-restart':
    case 'postgres-crash': {
      const downMs = random.int(2_000, 6_000);
      struck();
      if (kind === 'postgres-crash') await t.postgres.crash();
      else await t.postgres.down();
      await sleep(downMs);
      await t.postgres.up();
      const how =
        kind === 'postgres-crash'
          ? 'crashed (SIGQUIT, WAL replay on start)'
          : 'stopped (fast shutdown)';
      return `PostgreSQL ${how}, down ${(downMs / 1000).toFixed(1)} s, started`;
    }
    case 'postgres-stall': {
      // Shorter than the activity timeout: a stall that long is a timeout test, not this one.
      const downMs = random.int(4_000, 10_000);
      struck();
      const frozen = t.network.stall();
      await sleep(downMs);
      await t.network.restore();
      return `network to PostgreSQL stalled (${frozen} connections frozen, new ones hang) for ${(downMs / 1000).toFixed(1)} s`;
    }
    case 'postgres-cut': {
      const downMs = random.int(3_000, 8_000);
      struck();
      const dropped = await t.network.cut();
      await sleep(downMs);
      await t.network.restore();
      return `network to PostgreSQL cut (${dropped} sockets reset, new ones refused) for ${(downMs / 1000).toFixed(1)} s`;
    }
  }
}

/** Brings every part back up after a fault that went wrong half-way. */
/** `2/2 ` when there are several processes of a kind, nothing when there is one. */
const which = (n: number, all: unknown[]): string =>
  all.length > 1 ? `${n + 1}/${all.length} ` : '';

async function repairAll(t: FaultTargets): Promise<void> {
  await t.network.restore();
  await t.postgres.up();
  await t.temporal.up();
}

async function countProcessing(db: Pool): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from events where status = 'processing'`,
  );
  return rows[0]?.n ?? 0;
}

const round = (n: number): number => Math.round(n * 10) / 10;
