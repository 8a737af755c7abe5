import { randomUUID } from 'node:crypto';
import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Harness } from '../support/harness';
import { waitForFinishedEvents } from '../support/tracking';

/** The real server-side SDKs, unchanged, pointed at the service, sending with the write key. */
let h: Harness;
let alice: { id: string; token: string; writeKey: string };

beforeAll(async () => {
  h = await Harness.start();
  alice = await h.createUser();
});
afterAll(() => h.close());

it('@segment/analytics-node: exactly the distinct messages are stored and processed', async () => {
  const anonymousId = randomUUID();
  const userId = `user-${anonymousId}`;
  const analytics = new Analytics({
    writeKey: alice.writeKey,
    host: h.baseUrl,
    flushInterval: 100,
  });
  const errors: unknown[] = [];
  analytics.on('error', (err) => errors.push(err));

  // 100 tracks, 50 distinct: the second half repeats messageIds of the first, some within one
  // batch of the SDK's, most across batches.
  for (let i = 0; i < 100; i++) {
    const n = i < 50 ? i : Math.floor(i / 2);
    analytics.track({
      anonymousId,
      event: 'Item Viewed',
      messageId: `${anonymousId}-${n}`,
      properties: { n, i },
    });
  }
  analytics.identify({ anonymousId, userId, traits: { plan: 'pro' } });
  analytics.page({ anonymousId, userId, name: 'Pricing', properties: { path: '/pricing' } });
  await analytics.closeAndFlush({ timeout: 30_000 });
  expect(errors).toEqual([]);

  const events = await waitForFinishedEvents(h, alice.token, { anonymous_id: anonymousId }, 52);
  expect(events).toHaveLength(52);
  expect(events.every((e) => e.status === 'processed')).toBe(true);

  const tracks = events.filter((e) => e.event_type === 'track');
  expect(tracks).toHaveLength(50);
  expect(tracks.every((e) => e.event_name === 'Item Viewed')).toBe(true);
  // One copy per messageId is stored. The SDK sends its batches concurrently, so which copy
  // arrives first is not fixed: the stored one is any of those sent (i = n, 2n or 2n + 1).
  expect(tracks.map((e) => e.payload.properties.n).sort((a, b) => a - b)).toEqual(
    Array.from({ length: 50 }, (_, n) => n),
  );
  for (const { n, i } of tracks.map((e) => e.payload.properties)) {
    expect([n, 2 * n, 2 * n + 1]).toContain(i);
  }
  expect(tracks[0]).toMatchObject({
    anonymous_id: anonymousId,
    subject_user_id: null,
    batch_id: expect.any(String),
    timestamp: expect.any(String),
    sent_at: expect.any(String),
    payload: {
      anonymousId,
      context: { library: { name: '@segment/analytics-node' } },
    },
    properties: expect.objectContaining({ original: expect.any(Object) }),
  });

  const identify = events.find((e) => e.event_type === 'identify');
  expect(identify).toMatchObject({
    event_name: 'identify',
    subject_user_id: userId,
    payload: { traits: { plan: 'pro' }, userId, anonymousId },
  });
  const page = events.find((e) => e.event_type === 'page');
  expect(page).toMatchObject({
    event_name: 'Pricing',
    subject_user_id: userId,
    payload: { properties: { path: '/pricing' } },
  });
});

it('@rudderstack/rudder-sdk-node with its default gzip: every call stored and processed', async () => {
  const anonymousId = randomUUID();
  const userId = `user-${anonymousId}`;
  const errors: unknown[] = [];
  const client = new RudderAnalytics(alice.writeKey, {
    dataPlaneUrl: h.baseUrl,
    flushInterval: 100_000,
    logLevel: 'error',
    errorHandler: (err) => errors.push(err),
  });
  for (let i = 0; i < 25; i++) {
    client.track({ anonymousId, event: 'Button Clicked', properties: { i } });
  }
  client.identify({ anonymousId, userId, traits: { plan: 'team' } });
  client.page({ anonymousId, userId, name: 'Docs', properties: { path: '/docs' } });
  client.screen({ anonymousId, userId, name: 'Settings' });
  client.group({ anonymousId, userId, groupId: 'acme', traits: { size: 10 } });
  client.alias({ userId, previousId: anonymousId, anonymousId });
  // One flush sends at most flushAt (20) messages.
  await client.flush();
  await client.flush();
  expect(errors).toEqual([]);

  const events = await waitForFinishedEvents(h, alice.token, { anonymous_id: anonymousId }, 30);
  expect(events).toHaveLength(30);
  expect(events.every((e) => e.status === 'processed')).toBe(true);
  const names = events.map((e) => `${e.event_type}:${e.event_name}`);
  expect(names.filter((n) => n === 'track:Button Clicked')).toHaveLength(25);
  expect(names).toEqual(
    expect.arrayContaining([
      'identify:identify',
      'page:Docs',
      'screen:Settings',
      'group:group',
      'alias:alias',
    ]),
  );
  const clicked = events.find((e) => e.event_name === 'Button Clicked');
  // RudderStack sends originalTimestamp and sentAt per message.
  expect(clicked).toMatchObject({ timestamp: expect.any(String), sent_at: expect.any(String) });
});
