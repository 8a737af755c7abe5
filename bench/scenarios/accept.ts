import type { Stack } from '../stack';
import { CheckError, closedLoop, eventInput, eventRound, type Progress } from './events';

/**
 * Measurement i, what accepting costs the API beside Koa's own floor: the same POSTs of single
 * events by `concurrency` clients, first with a malformed token (answered 401 before the body is
 * read or the database asked: the floor), then for real with the worker paused, so that the API
 * only accepts. Every accepted event is followed to its processed row once the worker resumes.
 */
export async function acceptRound(
  stack: Stack,
  concurrency: number,
  requests: number,
  progress: Progress,
) {
  const bodies = Array.from({ length: requests }, (_, r) => JSON.stringify(eventInput(r)));
  const floor = await closedLoop(
    stack,
    concurrency,
    '/api/v1/events',
    { authorization: 'Bearer not-a-token', 'content-type': 'application/json' },
    bodies,
    (n) => progress((0.2 * n) / bodies.length, `401 path: ${n}/${bodies.length} answered`),
  );
  const refused = floor.answers.filter((a) => a.status !== 401);
  if (refused.length > 0) {
    throw new CheckError(`the 401 path answered ${refused[0]!.status}: ${refused[0]!.body}`);
  }
  const accepted = await eventRound(
    stack,
    concurrency,
    requests,
    undefined,
    (fraction, detail) => progress(0.2 + 0.8 * fraction, `worker paused: ${detail}`),
    { hold: stack.worker },
  );
  const unauthorizedPerSec = (requests * 1000) / floor.elapsedMs;
  return {
    concurrency,
    events: requests,
    unauthorizedPerSec,
    acceptPerSec: accepted.acceptPerSec,
    acceptP50Ms: accepted.acceptP50Ms,
    acceptP99Ms: accepted.acceptP99Ms,
    acceptVsFloor: accepted.acceptPerSec / unauthorizedPerSec,
  };
}
