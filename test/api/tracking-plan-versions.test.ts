import type { createActivities } from '../../activities';
import { Harness } from '../support/harness';

/*
 * A plan changed while events wait in the validate step: each event is decided by the version
 * in force when it was accepted, and a retried step decides as its first attempt would have.
 */

type Activities = ReturnType<typeof createActivities>;

let h: Harness;
let open: () => void = () => {};
let gate: Promise<void> = Promise.resolve();
const held = { validate: 0, chunks: 0 };
/** Event ids whose next validate attempt fails as a database outage would, once. */
const failOnce = new Set<string>();

function hold(real: Activities): Activities {
  return {
    ...real,
    async validatePayload(eventId) {
      held.validate += 1;
      await gate;
      if (failOnce.delete(eventId)) throw new Error('connection terminated unexpectedly');
      return real.validatePayload(eventId);
    },
    async normalizeBatchChunk(batchId, chunk, userId) {
      held.chunks += 1;
      await gate;
      return real.normalizeBatchChunk(batchId, chunk, userId);
    },
  };
}

beforeAll(async () => {
  h = await Harness.start({ wrapActivities: hold });
});
afterAll(() => h.close());

const checkout = (plans: string[]) => ({
  mode: 'enforce',
  events: {
    checkout: {
      type: 'object',
      properties: { plan: { enum: plans } },
      required: ['plan'],
    },
  },
});

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

it('a plan changed while events are in flight: each is decided by its own version', async () => {
  const { token } = await h.createUser();
  const put = async (body: unknown) => {
    const res = await h.request('PUT', '/api/v1/tracking-plan', { token, body });
    expect(res.status).toBe(200);
    return res.body.version as number;
  };
  const post = async (plan: string) => {
    const res = await h.request('POST', '/api/v1/events', {
      token,
      body: { event_name: 'checkout', event_type: 'commerce', payload: { plan } },
    });
    expect(res.status).toBe(202);
    return res.body.event_id as string;
  };
  const v1 = await put(checkout(['free', 'pro']));
  gate = new Promise((resolve) => (open = resolve));
  held.validate = 0;
  held.chunks = 0;

  // Accepted under v1, which knows free and pro.
  const enterpriseV1 = await post('enterprise');
  const freeV1 = await post('free');
  failOnce.add(freeV1);
  const batch = await h.request('POST', '/api/v1/events/batch', {
    token,
    body: {
      events: ['enterprise', 'free'].map((plan) => ({
        event_name: 'checkout',
        event_type: 'commerce',
        payload: { plan },
      })),
    },
  });
  expect(batch.status).toBe(202);
  await waitFor(() => held.validate >= 2 && held.chunks >= 1, 'the v1 events to reach validate');

  // v2 drops free and adds enterprise, while the v1 events wait.
  const v2 = await put(checkout(['pro', 'enterprise']));
  expect(v2).toBe(v1 + 1);
  const enterpriseV2 = await post('enterprise');
  const freeV2 = await post('free');
  await waitFor(() => held.validate >= 4, 'the v2 events to reach validate');
  open();

  const outcome = async (id: string) => {
    const e = await h.waitForEvent(token, id);
    return { status: e.status, plan_version: e.plan_version };
  };
  expect(await outcome(enterpriseV1)).toEqual({ status: 'failed', plan_version: v1 });
  // Its first attempt failed after v2 was in force; the retry still checked it against v1.
  expect(await outcome(freeV1)).toEqual({ status: 'processed', plan_version: v1 });
  expect(failOnce.size).toBe(0);
  expect(await outcome(enterpriseV2)).toEqual({ status: 'processed', plan_version: v2 });
  expect(await outcome(freeV2)).toEqual({ status: 'failed', plan_version: v2 });
  const summary = await h.workflowResult(batch.body.workflow_id);
  expect(summary).toMatchObject({ processed: 1, failed: 1 });
  expect(summary.results).toEqual([
    expect.objectContaining({ event_id: batch.body.event_ids[0], status: 'failed' }),
  ]);
  for (const id of batch.body.event_ids) expect((await outcome(id)).plan_version).toBe(v1);
});
