import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import { say, sleep } from './clock';

const POLL_MS = 2_000;
const REPORT_EVERY_MS = 15_000;

/**
 * Waits until every stored event is `processed` or `failed`, or until `timeoutSeconds`
 * pass: whatever is still unfinished then is what the checker reports.
 * @returns how many rows were still unfinished, and when the wait ended
 */
export async function waitForQuiescence(
  db: Pool,
  timeoutSeconds: number,
): Promise<{ unfinished: number; waitedSeconds: number; quietAt: Date | undefined }> {
  const started = Date.now();
  const deadline = started + timeoutSeconds * 1000;
  let lastReport = 0;
  for (;;) {
    const unfinished = await countUnfinished(db);
    const now = Date.now();
    if (unfinished === 0 || now >= deadline) {
      return {
        unfinished,
        waitedSeconds: Math.round((now - started) / 1000),
        quietAt: unfinished === 0 ? new Date() : undefined,
      };
    }
    if (now - lastReport >= REPORT_EVERY_MS) {
      say(`waiting for ${unfinished} unfinished events`);
      lastReport = now;
    }
    await sleep(POLL_MS);
  }
}

async function countUnfinished(db: Pool): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from events where status not in ('processed', 'failed')`,
  );
  return rows[0]?.n ?? 0;
}

/**
 * How many workflow executions match a visibility query, e.g. `ExecutionStatus = "Running"` (a
 * stuck one would show there); undefined if Temporal cannot say.
 */
export async function countWorkflows(
  address: string,
  namespace: string,
  query: string,
): Promise<number | undefined> {
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const client = new Client({ connection, namespace });
    const { count } = await client.workflow.count(query);
    return count;
  } catch {
    return undefined;
  } finally {
    await connection.close();
  }
}
