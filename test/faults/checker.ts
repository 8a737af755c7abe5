import type { Pool } from 'pg';
import {
  auditTrail,
  changesSince,
  findDoubleProcessing,
  type DoubleProcessing,
} from './audit-trigger';
import type { Ledger } from './ledger';

const TERMINAL = new Set(['processed', 'failed']);
const SAMPLES = 10;

interface Row {
  id: string;
  user_id: string;
  status: string;
  processed: boolean;
  processed_at: Date | null;
  processing_error: string | null;
  seq: number | null;
  batch_id: string | null;
  idempotency_key: string | null;
  has_properties: boolean;
  workflow_id: string;
  attempts: number;
}

/** Everything the checker found, with a few ids of each kind as evidence. */
export interface Findings {
  rows: number;
  accepted: number;
  acceptedLogical: number;
  processed: number;
  failed: number;
  lost: string[];
  /** Logical events stored more than once (by `fault_seq`), with their row ids. */
  duplicated: { seq: number; ids: string[] }[];
  /** Rows beyond the first of each duplicated event. */
  duplicateRows: number;
  /** (user, idempotency key) pairs held by more than one row. */
  duplicateKeys: string[];
  nonTerminal: { id: string; status: string; workflow: string; workflowState: string }[];
  /** Counts by `<row status> / <workflow state>`, e.g. `received / NO WORKFLOW`. */
  nonTerminalByStatus: Record<string, number>;
  doubleProcessing: DoubleProcessing;
  /** Valid events that ended failed, invalid ones that ended processed or failed otherwise. */
  wrongOutcome: { id: string; valid: boolean; status: string; error: string | null }[];
  /**
   * processed without processed_at or properties, failed with processed=true and the like;
   * and batches whose stored events are not the count they were accepted with (a batch is
   * stored whole or not at all).
   */
  inconsistent: string[];
  /** Rows no answer named: their request's answer was lost or the client gave up on it. */
  unacknowledged: { rows: number; nonTerminal: number };
  /** Ids an answer gave for two different events. */
  mixups: string[];
  /**
   * Events more than one workflow run took up (the `attempts` column): nothing here reprocesses,
   * so a second run means a workflow was started again for an event already handled once.
   */
  takenUpTwice: { id: string; attempts: number; status: string }[];
  /** Null when quiescence was not reached: writes were still expected then. */
  lateWrites: number | null;
  evidence: Record<string, string[]>;
}

/** Compares the ledger with what PostgreSQL (and, for unfinished events, Temporal) holds. */
export async function check(input: {
  db: Pool;
  ledger: Ledger;
  /** When every event was finished; undefined if the wait ran out first. */
  quiescedAt: Date | undefined;
  /** What Temporal says of these workflow ids (see `workflowStates`). */
  workflowStates: (ids: string[]) => Promise<Map<string, string>>;
}): Promise<Findings> {
  const { db, ledger } = input;
  const hasKeys = await columnExists(db, 'events', 'idempotency_key');
  const hasAttempts = await columnExists(db, 'events', 'attempts');
  const { rows } = await db.query<Row>(
    `select id, user_id, status, processed, processed_at, processing_error, batch_id,
            (payload->>'fault_seq')::int as seq, properties is not null as has_properties,
            workflow_id, ${hasAttempts ? 'attempts' : '1 as attempts'},
            ${hasKeys ? 'idempotency_key' : 'null::text as idempotency_key'}
       from events`,
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const bySeq = new Map<number, Row[]>();
  for (const r of rows) {
    if (r.seq === null) continue;
    bySeq.set(r.seq, [...(bySeq.get(r.seq) ?? []), r]);
  }

  const acceptedIds = ledger.acceptedIds();
  const lost = acceptedIds.filter((id) => !byId.has(id));
  const present = acceptedIds.flatMap((id) => byId.get(id) ?? []);

  const duplicated = [...bySeq.entries()]
    .filter(([, group]) => group.length > 1)
    .map(([seq, group]) => ({ seq, ids: group.map((r) => r.id) }));
  const duplicateKeys = hasKeys ? await findDuplicateKeys(db) : [];

  const unfinished = present.filter((r) => !TERMINAL.has(r.status));
  const states = await input
    .workflowStates(unfinished.map(workflowOf))
    .catch(() => new Map<string, string>());
  // Temporal was asked after the rows were read: a row that finished meanwhile is not stuck.
  const finishedSince = await stillUnfinished(
    db,
    unfinished.map((r) => r.id),
  ).then((open) => new Set(unfinished.map((r) => r.id).filter((id) => !open.has(id))));
  const nonTerminal = unfinished.map((r) => ({
    id: r.id,
    status: r.status,
    workflow: workflowOf(r),
    workflowState: finishedSince.has(r.id)
      ? 'FINISHED DURING CHECK'
      : (states.get(workflowOf(r)) ?? 'UNKNOWN'),
  }));
  const nonTerminalByStatus: Record<string, number> = {};
  for (const r of nonTerminal) {
    const key = `${r.status} / ${r.workflowState}`;
    nonTerminalByStatus[key] = (nonTerminalByStatus[key] ?? 0) + 1;
  }

  const wrongOutcome = present.flatMap((r) => {
    const valid = ledger.accepted.get(ledger.seqById.get(r.id)!)?.valid ?? true;
    const right = valid
      ? r.status === 'processed'
      : r.status === 'failed' && (r.processing_error ?? '').startsWith('validation_error');
    return TERMINAL.has(r.status) && !right
      ? [{ id: r.id, valid, status: r.status, error: r.processing_error }]
      : [];
  });

  const inconsistent = [
    ...rows
      .filter((r) =>
        r.status === 'processed'
          ? !r.processed || r.processed_at === null || !r.has_properties
          : r.processed || (r.status === 'failed' && r.processing_error === null),
      )
      .map((r) => `event ${r.id} ${r.status}`),
    ...(await unevenBatches(db)),
  ];

  const acknowledged = new Set(acceptedIds);
  const unacknowledgedRows = rows.filter((r) => !acknowledged.has(r.id));

  const doubleProcessing = await findDoubleProcessing(db);
  const evidence: Record<string, string[]> = {};
  for (const id of doubleProcessing.events.slice(0, 3)) {
    evidence[`audit trail of ${id}`] = await auditTrail(db, id);
  }
  for (const { id } of rows.filter((r) => r.attempts > 1).slice(0, 3)) {
    evidence[`audit trail of ${id}, taken up by several runs`] = await auditTrail(db, id);
  }
  for (const { id } of nonTerminal.slice(0, 3)) {
    evidence[`audit trail of non-terminal ${id}`] = await auditTrail(db, id);
  }

  return {
    rows: rows.length,
    accepted: acceptedIds.length,
    acceptedLogical: ledger.accepted.size,
    processed: present.filter((r) => r.status === 'processed').length,
    failed: present.filter((r) => r.status === 'failed').length,
    lost,
    duplicated,
    duplicateRows: duplicated.reduce((n, d) => n + d.ids.length - 1, 0),
    duplicateKeys,
    nonTerminal,
    nonTerminalByStatus,
    doubleProcessing,
    wrongOutcome,
    inconsistent,
    unacknowledged: {
      rows: unacknowledgedRows.length,
      nonTerminal: unacknowledgedRows.filter((r) => !TERMINAL.has(r.status)).length,
    },
    mixups: ledger.mixups,
    takenUpTwice: rows
      .filter((r) => r.attempts > 1)
      .map((r) => ({ id: r.id, attempts: r.attempts, status: r.status })),
    lateWrites: input.quiescedAt ? await changesSince(db, input.quiescedAt) : null,
    evidence,
  };
}

/** The first few of a list, for the report. */
export const firstFew = <T>(items: T[]): T[] => items.slice(0, SAMPLES);

function workflowOf(r: Row): string {
  return r.workflow_id;
}

async function unevenBatches(db: Pool): Promise<string[]> {
  const { rows } = await db.query<{ line: string }>(
    `select 'batch ' || b.id || ' accepted ' || b.event_count || ' events, holds ' || count(e.id) as line
       from batches b left join events e on e.batch_id = b.id
      group by b.id, b.event_count having count(e.id) <> b.event_count`,
  );
  return rows.map((r) => r.line);
}

async function stillUnfinished(db: Pool, ids: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>(
    `select id from events where id = any($1::uuid[]) and status not in ('processed', 'failed')`,
    [ids],
  );
  return new Set(rows.map((r) => r.id));
}

async function columnExists(db: Pool, table: string, column: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'select 1 from information_schema.columns where table_name = $1 and column_name = $2',
    [table, column],
  );
  return (rowCount ?? 0) > 0;
}

async function findDuplicateKeys(db: Pool): Promise<string[]> {
  const { rows } = await db.query<{ k: string }>(
    `select user_id || ' ' || idempotency_key as k from events
      where idempotency_key is not null
      group by user_id, idempotency_key having count(*) > 1`,
  );
  return rows.map((r) => r.k);
}
