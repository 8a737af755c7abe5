import { Harness } from '../support/harness';
import { eventRows, finishedRows, postTracking, trackMessage, until } from '../support/grouping';

/**
 * One user's flood already started in Temporal does not hold back another user's message: each
 * run's user is its fairness key, and the dev server dispatches the tasks of different keys in
 * turn. Without fairness the other user's group would be dispatched after the whole flood.
 */
const GROUP = 20;
const FLOOD_GROUPS = 60;

let api: Harness;
let worker: Harness | undefined;

beforeAll(async () => {
  // The API starts every group's workflow; no worker runs them yet.
  api = await Harness.start({
    noWorker: true,
    env: { TRACKING_GROUP_MAX_MESSAGES: String(GROUP), TRACKING_GROUP_WINDOW_MS: '50' },
  });
});
afterAll(async () => {
  await worker?.close();
  await api.close();
});

const allQueued = async (userId: string, count: number) => {
  const rows = await eventRows(api, userId);
  return rows.length === count && rows.every((r) => r.status === 'queued') ? rows : undefined;
};

it("processes another user's message before most of a flood already started", async () => {
  const flooder = await api.createUser();
  for (let g = 0; g < FLOOD_GROUPS; g++) {
    const batch = Array.from({ length: GROUP }, () => trackMessage());
    expect((await postTracking(api, flooder.writeKey, '/v1/batch', { batch })).status).toBe(200);
  }
  await until('every flood group started', () => allQueued(flooder.id, GROUP * FLOOD_GROUPS));
  const other = await api.createUser();
  expect((await postTracking(api, other.writeKey, '/v1/track', trackMessage())).status).toBe(200);
  await until("the other user's group started", () => allQueued(other.id, 1));

  // A worker on the API's task queue, once everything waits in Temporal.
  worker = await Harness.start({ env: { TEMPORAL_TASK_QUEUE: api.config.temporal.taskQueue } });
  const [message] = await finishedRows(api, other.id, 1, 60_000);
  expect(message!.status).toBe('processed');
  const flood = await eventRows(api, flooder.id);
  const before = flood.filter((e) => e.processed_at && e.processed_at <= message!.processed_at!);
  expect(before.length).toBeLessThan((GROUP * FLOOD_GROUPS) / 4);
  await finishedRows(api, flooder.id, GROUP * FLOOD_GROUPS, 90_000);
}, 180_000);
