import type { LogicalEvent } from './event-factory';
import { postJson } from './http-client';
import type { Ledger } from './ledger';
import type { LoadUser } from './load-generator';

/** What the probe learnt; `note` says it in a sentence for the report. */
export interface IdempotencySupport {
  keys: boolean;
  note: string;
}

/**
 * Finds out whether the service takes `idempotency_key`: it rejects unknown fields (422), so a
 * 202 means it knows the field. A second send of the same key must then answer 200 with the
 * same id. The probe's event is a real one and goes into the ledger like any other.
 */
export async function probeIdempotency(
  baseUrl: string,
  user: LoadUser,
  ledger: Ledger,
  event: LogicalEvent,
): Promise<IdempotencySupport> {
  const url = `${baseUrl}/api/v1/events`;
  const body = { ...event.body, idempotency_key: event.key };
  ledger.client.eventsSent++;
  const first = await postJson(url, { token: user.token, body });
  if (first.kind !== 'answer') throw new Error(`idempotency probe got no answer: ${first.cause}`);
  if (first.status === 422) {
    // Plain events then: the same one without the unknown field, so it still counts.
    const plain = await postJson(url, { token: user.token, body: event.body });
    if (plain.kind === 'answer' && plain.status === 202) {
      ledger.accept(event, user.id, plain.body.event_id, 202);
    }
    return {
      keys: false,
      note: 'not supported (idempotency_key answers 422): a retried request may store a second event',
    };
  }
  if (first.status !== 202) {
    throw new Error(`idempotency probe answered ${first.status}: ${JSON.stringify(first.body)}`);
  }
  ledger.accept(event, user.id, first.body.event_id, 202);
  const again = await postJson(url, { token: user.token, body });
  if (again.kind === 'answer' && (again.status === 200 || again.status === 202)) {
    ledger.accept(event, user.id, again.body.event_id, again.status);
  }
  const same = again.kind === 'answer' && again.body?.event_id === first.body.event_id;
  return {
    keys: true,
    note: same
      ? `supported (a repeated key answers ${again.kind === 'answer' ? again.status : '?'} with the original id)`
      : 'idempotency_key is accepted but a repeated key made a second event',
  };
}
