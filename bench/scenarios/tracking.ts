import type { Stack } from '../stack';
import {
  CheckError,
  checkProcessedRows,
  closedLoop,
  eventInput,
  roundFigures,
  waitForTerminal,
  type Progress,
} from './events';

/** A track call as analytics SDKs send it, with the bench's usual 200-byte properties. */
function trackMessage(i: number, round: string) {
  const { event_name, payload } = eventInput(i);
  return {
    type: 'track',
    event: event_name,
    anonymousId: `anon-${i % 1000}`,
    messageId: `${round}-${i}`,
    properties: payload,
    context: { library: { name: 'bench', version: '1' } },
    timestamp: '2026-12-01T10:00:00.000Z',
  };
}

/**
 * Measurements g and h, what analytics SDKs send: `requests` POSTs of one message to
 * `/v1/track` (analytics.js in a browser) or of `perRequest` messages to `/v1/batch`
 * (analytics-node's default of 15), by `concurrency` clients in a closed loop, each answered
 * 200 once stored; then every message followed to its processed row.
 */
export async function trackingRound(
  stack: Stack,
  concurrency: number,
  requests: number,
  perRequest: number,
  progress: Progress,
) {
  const round = `${stack.runId}-${Date.now()}`;
  const messages = (r: number) =>
    Array.from({ length: perRequest }, (_, k) => trackMessage(r * perRequest + k, round));
  const single = perRequest === 1;
  const path = single ? '/v1/track' : '/v1/batch';
  const bodies = Array.from({ length: requests }, (_, r) =>
    JSON.stringify(single ? messages(r)[0] : { batch: messages(r) }),
  );
  const user = await stack.newUser();
  const headers = {
    // The write key, as a web page or a server-side SDK holds it.
    authorization: `Basic ${Buffer.from(`${user.writeKey}:`).toString('base64')}`,
    // As analytics.js sends it, to spare the browser a CORS preflight.
    'content-type': single ? 'text/plain' : 'application/json',
  };
  const { answers, elapsedMs } = await closedLoop(stack, concurrency, path, headers, bodies, (n) =>
    progress((0.5 * n) / bodies.length, `${n}/${bodies.length} answered`),
  );
  for (const a of answers) {
    if (a.status !== 200 || a.body !== '{"success":true}') {
      throw new CheckError(`POST ${path} answered ${a.status}: ${a.body.slice(0, 300)}`);
    }
  }
  const events = requests * perRequest;
  await waitForTerminal(stack, user.id, events, 60_000 + events * 20, (n) =>
    progress(0.5 + (0.5 * n) / events, `${n}/${events} processed`),
  );
  const ids = answers.map((_, r) => messages(r).map((m) => m.messageId));
  const processed = await checkProcessedRows(stack.pg, user.id, ids.flat(), 'message_id');
  const groups = await stack.pg.query<{ n: number }>(
    `select count(distinct batch_id)::int as n from events where user_id = $1`,
    [user.id],
  );
  return {
    ...roundFigures(
      concurrency,
      answers,
      elapsedMs,
      ids.map((list) => list.map((id) => processed.get(id)!)),
    ),
    // How many batch workflows the relay made of the messages.
    groups: groups.rows[0]!.n,
  };
}
