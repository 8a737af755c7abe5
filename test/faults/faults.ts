import { once } from 'node:events';
import net from 'node:net';
import type { Pool } from 'pg';
import { errorMessage } from '../../src/dev/child-process';
import type { FaultKind, RunPlan } from './plan';
import { withTemporal, type Postgres, type ServiceProcess, type Temporal } from './stack';
import { createRandom, elapsedMs, say, sleep, type Random } from './support';

/** What the injector can break; `db` shows what the worker is doing before killing it. */
export interface FaultTargets {
  apis: ServiceProcess[];
  workers: ServiceProcess[];
  temporal: Temporal;
  postgres: Postgres;
  network: FaultyNetwork;
  db: Pool;
}

/**
 * Injects `kinds` one after the other, each repaired before the next, in slots fixed in advance
 * (with jitter) so that a slow recovery delays later faults rather than piling them up.
 */
export async function injectFaults(plan: RunPlan, targets: FaultTargets) {
  const { faults: kinds } = plan;
  const random = createRandom(plan.seed + 1);
  const records = [];
  const start = elapsedMs();
  // The first slot is left to warm-up: the service is under load before anything breaks.
  const slotMs = (plan.loadSeconds * 1000) / (kinds.length + 1);
  for (const [i, kind] of kinds.entries()) {
    const due = start + slotMs * (i + 1) + (random.next() - 0.5) * slotMs * 0.4;
    await sleep(Math.max(due - elapsedMs(), 2_000));
    let struck = elapsedMs();
    let detail = '';
    let error: string | undefined;
    try {
      detail = await strike(kind, targets, random, () => (struck = elapsedMs()));
    } catch (err) {
      error = errorMessage(err);
      say(`fault ${i + 1} (${kind}) went wrong: ${error}; repairing`);
      await targets.network.restore();
      await targets.postgres.up();
      await targets.temporal.up();
    }
    // Suite clock when it struck, and until the broken part was back (ready, for processes).
    const atSeconds = round(struck / 1000);
    const outageSeconds = round((elapsedMs() - struck) / 1000);
    records.push({ n: i + 1, kind, atSeconds, outageSeconds, detail, error });
    say(
      `fault ${i + 1}/${kinds.length} ${kind}: ${detail || 'failed'} (back after ${outageSeconds.toFixed(1)} s)`,
    );
  }
  return records;
}
export type FaultRecord = Awaited<ReturnType<typeof injectFaults>>[number];

/** Breaks one thing and repairs it; calls `struck` at the moment of breaking. */
async function strike(
  kind: FaultKind,
  t: FaultTargets,
  random: Random,
  struck: () => void,
): Promise<string> {
  const outage = async (minMs: number, maxMs: number, repair: () => Promise<void>) => {
    const downMs = random.int(minMs, maxMs);
    await sleep(downMs);
    await repair();
    return `${(downMs / 1000).toFixed(1)} s`;
  };
  switch (kind) {
    case 'worker-kill':
    case 'api-kill': {
      const worker = kind === 'worker-kill';
      // Aim for the middle of activities: wait (briefly) until the worker has events in hand.
      let busy = 0;
      for (const until = Date.now() + 15_000; worker && busy === 0 && Date.now() < until;) {
        busy = await countProcessing(t.db).catch(() => 0);
        if (busy === 0) await sleep(100);
      }
      const all = worker ? t.workers : t.apis;
      // Only drawn with several, so a seed of a one-process run replays as it did.
      const n = all.length > 1 ? random.int(0, all.length - 1) : 0;
      const pid = all[n]!.pid;
      struck();
      await all[n]!.killAndRestart(random.int(0, worker ? 2_000 : 1_000));
      const which = all.length > 1 ? `${n + 1}/${all.length} ` : '';
      return worker
        ? `kill -9 worker ${which}pid ${pid} with ${busy} events processing; restarted`
        : `kill -9 API ${which}pid ${pid}; restarted`;
    }
    case 'temporal-term':
    case 'temporal-kill': {
      const crash = kind === 'temporal-kill';
      struck();
      await t.temporal.down(crash ? 'SIGKILL' : 'SIGTERM');
      // A crash stays down long enough for the outbox relay to find Temporal unreachable for
      // several passes; a graceful stop is a quick restart.
      const down = await outage(crash ? 8_000 : 1_000, crash ? 20_000 : 5_000, t.temporal.up);
      return `${crash ? 'SIGKILL' : 'SIGTERM'} Temporal dev server, down ${down}, restarted on its state file`;
    }
    case 'postgres-restart':
    case 'postgres-crash': {
      const crash = kind === 'postgres-crash';
      struck();
      await (crash ? t.postgres.crash() : t.postgres.down());
      const down = await outage(2_000, 6_000, t.postgres.up);
      const how = crash ? 'crashed (SIGQUIT, WAL replay on start)' : 'stopped (fast shutdown)';
      return `PostgreSQL ${how}, down ${down}, started`;
    }
    case 'postgres-stall': {
      struck();
      const frozen = t.network.stall();
      // Shorter than the activity timeout: a stall that long is a timeout test, not this one.
      const down = await outage(4_000, 10_000, () => t.network.restore());
      return `network to PostgreSQL stalled (${frozen} connections frozen, new ones hang) for ${down}`;
    }
    case 'postgres-cut': {
      struck();
      const dropped = t.network.cut();
      const down = await outage(3_000, 8_000, () => t.network.restore());
      return `network to PostgreSQL cut (${dropped} sockets reset, new ones refused) for ${down}`;
    }
    case 'queued-terminate': {
      // Every worker stops, so the runs started from now on wait in Temporal, picked up by none.
      struck();
      const [{ now: since }] = (await t.db.query<{ now: Date }>('select now()')).rows as [
        { now: Date },
      ];
      await Promise.all(t.workers.map((w) => w.pause()));
      let terminated: string[];
      try {
        terminated = await terminateQueuedRuns(t, since);
      } finally {
        await Promise.all(t.workers.map((w) => w.start()));
      }
      const batches = terminated.filter((id) => id.startsWith('batch-')).length;
      return `workers stopped; ${terminated.length} runs no worker had picked up terminated (${batches} batches); workers started`;
    }
    case 'batch-run-lost': {
      // A batch run mid-way: its events taken up, some chunks normalized, nothing persisted.
      let victim: MidwayBatch | undefined;
      for (const until = Date.now() + 20_000; !victim && Date.now() < until;) {
        victim = await findMidwayBatch(t.db).catch(() => undefined);
        if (!victim) await sleep(200);
      }
      if (!victim) throw new Error('no batch run was mid-way within 20 s');
      struck();
      await withTemporal(t.temporal.address, (client) =>
        client.workflow.getHandle(victim.workflowId).terminate('fault suite: batch run lost'),
      );
      return `batch run ${victim.workflowId} terminated mid-way (${victim.normalized} of ${victim.events} events normalized, none persisted)`;
    }
  }
}

/** Most runs one queued-terminate fault terminates. */
const MAX_QUEUED_TERMINATED = 8;

/**
 * Waits (up to 15 s) for runs started since `since` to queue up, and terminates those no worker
 * has picked up: their history holds the start and the first workflow task, nothing more.
 */
async function terminateQueuedRuns(t: FaultTargets, since: Date): Promise<string[]> {
  let ids: string[] = [];
  for (const until = Date.now() + 15_000; Date.now() < until;) {
    const { rows } = await t.db
      .query<{ workflow_id: string }>(
        `select distinct workflow_id from events where status = 'queued' and updated_at > $1
          limit $2`,
        [since, MAX_QUEUED_TERMINATED],
      )
      .catch(() => ({ rows: [] }));
    ids = rows.map((r) => r.workflow_id);
    if (ids.length >= MAX_QUEUED_TERMINATED) break;
    await sleep(500);
  }
  return withTemporal(t.temporal.address, async (client) => {
    const terminated: string[] = [];
    for (const id of ids) {
      const handle = client.workflow.getHandle(id);
      const { status, historyLength } = await handle.describe();
      if (status.name !== 'RUNNING' || historyLength > 2) continue;
      await handle.terminate('fault suite: run lost while queued');
      terminated.push(id);
    }
    return terminated;
  });
}

interface MidwayBatch {
  workflowId: string;
  events: number;
  normalized: number;
}

/** A batch whose run is under way, with as many chunks normalized as can be found. */
async function findMidwayBatch(db: Pool): Promise<MidwayBatch | undefined> {
  const { rows } = await db.query<MidwayBatch>(
    `select workflow_id as "workflowId", count(*)::int as events,
            count(*) filter (where properties is not null)::int as normalized
       from events
      where status = 'processing' and batch_id is not null and workflow_id = 'batch-' || batch_id
      group by workflow_id
      order by count(*) filter (where properties is not null) > 0 desc, count(*) desc
      limit 1`,
  );
  return rows[0];
}

async function countProcessing(db: Pool): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from events where status = 'processing'`,
  );
  return rows[0]!.n;
}

const round = (n: number): number => Math.round(n * 10) / 10;

/** `upstream` is missing while the link waits for a stall to end before connecting. */
type Link = { client: net.Socket; upstream?: net.Socket };

/**
 * A TCP proxy in front of PostgreSQL that breaks the network, not the database, in two ways:
 *
 * - cut: every open connection is reset (both sides, so the server rolls back whatever was in
 *   flight and the client cannot tell whether a COMMIT landed) and new connections are refused;
 * - stall: nothing moves in either direction and new connections hang, as in a partition where
 *   packets are dropped rather than refused; transactions stay open holding their locks, and
 *   everything buffered is delivered late when the stall ends.
 */
export class FaultyNetwork {
  private server: net.Server | undefined;
  private readonly links = new Set<Link>();
  private port = 0;
  private stalled = false;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Starts listening on `port` (0: any free one) and returns the port. */
  async listen(port = 0): Promise<number> {
    this.server = net.createServer((client) => this.accept(client)).listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Resets every connection and refuses new ones until `restore()`; returns how many it reset. */
  cut(): number {
    this.server?.close();
    this.server = undefined;
    const dropped = this.links.size;
    for (const { client, upstream } of this.links) {
      client.resetAndDestroy();
      upstream?.resetAndDestroy();
    }
    this.links.clear();
    return dropped;
  }

  /** Freezes every connection, open or new, until `restore()`; returns how many it froze. */
  stall(): number {
    this.stalled = true;
    for (const { client, upstream } of this.links) {
      if (!upstream) continue;
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    return this.links.size;
  }

  /** Ends a cut or a stall. */
  async restore(): Promise<void> {
    if (this.stalled) {
      this.stalled = false;
      for (const link of this.links) {
        if (link.upstream) link.client.pipe(link.upstream).pipe(link.client);
        else this.connect(link);
      }
    }
    if (!this.server) await this.listen(this.port);
  }

  private accept(client: net.Socket): void {
    const link: Link = { client };
    this.links.add(link);
    client.setNoDelay(true);
    client.on('close', () => {
      link.upstream?.destroy();
      this.links.delete(link);
    });
    client.on('error', () => link.upstream?.resetAndDestroy());
    if (this.stalled) client.pause();
    else this.connect(link);
  }

  private connect(link: Link): void {
    const upstream = net.connect(this.target);
    link.upstream = upstream;
    upstream.setNoDelay(true);
    // A reset on one side is passed on as a reset, so neither end mistakes it for a clean close.
    upstream.on('error', () => link.client.resetAndDestroy());
    upstream.on('close', () => link.client.destroy());
    link.client.pipe(upstream).pipe(link.client);
  }
}
