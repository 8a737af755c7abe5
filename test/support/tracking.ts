import type { Harness } from './harness';

/** `Authorization: Basic` as analytics SDKs send it: the write key, an empty password. */
export const basicAuth = (writeKey: string): string =>
  `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;

/**
 * Polls GET /api/v1/events with `query` until `count` events match and none is unfinished;
 * returns them (newest first) with their payloads, read one by one.
 */
export async function waitForFinishedEvents(
  h: Harness,
  token: string,
  query: Record<string, string>,
  count: number,
  timeoutMs = 60_000,
): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  const qs = new URLSearchParams({ ...query, limit: '100' }).toString();
  let last: any[] = [];
  for (;;) {
    const listed: any[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: any } = await h.request(
        'GET',
        `/api/v1/events?${qs}${cursor ? `&cursor=${cursor}` : ''}`,
        { token },
      );
      if (res.status !== 200) throw new Error(`listing failed: ${JSON.stringify(res.body)}`);
      listed.push(...res.body.events);
      cursor = res.body.next_cursor;
    } while (cursor);
    last = listed;
    const done = listed.every((e) => e.status === 'processed' || e.status === 'failed');
    if (listed.length >= count && done) {
      return Promise.all(
        listed.map(async (e) => (await h.request('GET', `/api/v1/events/${e.id}`, { token })).body),
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `expected ${count} finished events for ${qs}, got ${JSON.stringify(last.map((e) => [e.event_name, e.status]))}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
