import { createSql } from '../../src/db/sql';
import { createTestDatabase, ownDatabaseName } from '../setup/databases';
import { Harness } from '../support/harness';
import {
  batchRows,
  eventRows,
  expectEachInOneBatch,
  finishedRows,
  msBetween,
  postTracking,
  trackMessage,
  until,
} from '../support/grouping';

/**
 * What the relay's sweeps recover, and what a flood of one user's waiting messages costs the
 * others. An API process that stops leaves its messages as a crash would: committed, answered,
 * and ungrouped (or grouped and never started); a second process with its sweeps on takes them
 * over. The sweeps scan the whole database, hence one of this file's own.
 */
let databaseUrl: string;
beforeAll(async () => {
  databaseUrl = await createTestDatabase(ownDatabaseName('grouping'));
});

/** Nothing listens here: the API's view of a Temporal outage. */
const UNREACHABLE_TEMPORAL = '127.0.0.1:1';

/** An API that answers and commits but never groups: its window and size are out of reach. */
const NEVER_GROUPS = { TRACKING_GROUP_MAX_MESSAGES: '100000', TRACKING_GROUP_WINDOW_MS: '60000' };

/** The user's messages still waiting for a group. */
async function waitingCount(h: Harness, userId: string): Promise<number> {
  const [row] = await createSql(h.orm)<{ n: number }>(
    `select count(*)::int as n from events
      where user_id = $1 and workflow_id is null and status = 'received'`,
    [userId],
  );
  return row!.n;
}

it('groups and processes messages committed by an API that stopped before grouping them', async () => {
  const gone = await Harness.start({ databaseUrl, noWorker: true, env: NEVER_GROUPS });
  let user: { id: string; token: string };
  try {
    user = await gone.createUser();
    const batch = Array.from({ length: 12 }, (_, i) => trackMessage({ properties: { i } }));
    expect((await postTracking(gone, user.token, '/v1/batch', { batch })).status).toBe(200);
    expect((await postTracking(gone, user.token, '/v1/t', trackMessage())).status).toBe(200);
    expect(await waitingCount(gone, user.id)).toBe(13);
  } finally {
    await gone.close();
  }

  const h = await Harness.start({
    databaseUrl,
    outboxSweep: true,
    env: { TRACKING_GROUP_MAX_MESSAGES: '5', TRACKING_GROUP_WINDOW_MS: '100' },
  });
  try {
    const events = await finishedRows(h, user.id, 13);
    expect(events.every((e) => e.status === 'processed')).toBe(true);
    const batches = await batchRows(h, user.id);
    expect(batches.map((b) => b.event_count)).toEqual([5, 5, 3]);
    expectEachInOneBatch(events, batches);
    for (const b of batches) {
      expect(await h.workflowResult(b.workflow_id)).toMatchObject({ processed: b.event_count });
    }
  } finally {
    await h.close();
  }
}, 60_000);

it('starts the workflow of a group formed by an API that stopped before starting it', async () => {
  const gone = await Harness.start({
    databaseUrl,
    noWorker: true,
    apiTemporalAddress: UNREACHABLE_TEMPORAL,
    env: {
      TRACKING_GROUP_MAX_MESSAGES: '3',
      TRACKING_GROUP_WINDOW_MS: '0',
      TEMPORAL_START_TIMEOUT_MS: '500',
    },
  });
  let user: { id: string; token: string };
  let formed: Awaited<ReturnType<typeof batchRows>>;
  try {
    user = await gone.createUser();
    const batch = [trackMessage(), trackMessage(), trackMessage()];
    expect((await postTracking(gone, user.token, '/v1/batch', { batch })).status).toBe(200);
    formed = await until('the group formed', async () => {
      const rows = await batchRows(gone, user.id);
      return rows.length === 1 && rows[0]!.events === 3 ? rows : undefined;
    });
    const rows = await eventRows(gone, user.id);
    expect(rows.map((r) => [r.status, r.workflow_id])).toEqual(
      Array(3).fill(['received', formed[0]!.workflow_id]),
    );
  } finally {
    await gone.close();
  }

  const h = await Harness.start({ databaseUrl, outboxSweep: true });
  try {
    const result = await h.workflowResult(formed[0]!.workflow_id, 20_000);
    expect(result).toMatchObject({ batch_id: formed[0]!.id, total_events: 3, processed: 3 });
    const events = await finishedRows(h, user.id, 3);
    // The group is the one formed before: started, not formed again.
    expect(await batchRows(h, user.id)).toHaveLength(1);
    expectEachInOneBatch(events, formed);
  } finally {
    await h.close();
  }
}, 60_000);

it("processes another user's single message while most of one user's flood still waits", async () => {
  const FLOOD = 2000;
  const gone = await Harness.start({ databaseUrl, noWorker: true, env: NEVER_GROUPS });
  let flooder: { id: string; token: string };
  try {
    flooder = await gone.createUser();
    for (let i = 0; i < FLOOD; i += 500) {
      const batch = Array.from({ length: 500 }, (_, j) =>
        trackMessage({ event: 'Flood', properties: { n: i + j } }),
      );
      expect((await postTracking(gone, flooder.token, '/v1/batch', { batch })).status).toBe(200);
    }
  } finally {
    await gone.close();
  }

  const h = await Harness.start({
    databaseUrl,
    outboxSweep: true,
    env: { TRACKING_GROUP_MAX_MESSAGES: '25', TRACKING_GROUP_WINDOW_MS: '100' },
  });
  try {
    const other = await h.createUser();
    const res = await postTracking(h, other.token, '/v1/track', trackMessage({ event: 'Lone' }));
    expect(res.status).toBe(200);
    // The flood still waits (the sweep has barely begun on it) when the other message comes.
    expect(await waitingCount(h, flooder.id)).toBeGreaterThan(FLOOD / 2);

    const [lone] = await finishedRows(h, other.id, 1);
    expect(lone!.status).toBe('processed');
    // A group of its own, never mixed with the flood's messages.
    const groups = await batchRows(h, other.id);
    expect(groups).toMatchObject([{ event_count: 1, events: 1, event_users: [other.id] }]);
    expect(lone!.workflow_id).toBe(`batch-${groups[0]!.id}`);
    const flood = await eventRows(h, flooder.id);
    const processedBefore = flood.filter(
      (e) => e.processed_at !== null && msBetween(e.processed_at, lone!.processed_at!) > 0,
    ).length;
    // It did not wait for the flood to drain: most of the flood was still to be processed.
    expect(processedBefore).toBeLessThan(FLOOD / 2);

    const drained = await finishedRows(h, flooder.id, FLOOD, 60_000);
    const floodGroups = await batchRows(h, flooder.id);
    expect(floodGroups.every((b) => b.event_count <= 25)).toBe(true);
    expectEachInOneBatch(drained, floodGroups);
    // Its group was formed in the first rounds after its window, not after the flood's.
    const formedBefore = floodGroups.filter(
      (b) => msBetween(b.created_at, groups[0]!.created_at) > 0,
    );
    expect(formedBefore.length).toBeLessThan(floodGroups.length / 2);
  } finally {
    await h.close();
  }
}, 120_000);
