/**
 * Run in a child process with --expose-gc: prints how much heap `findUnstorable` leaves
 * allocated while checking a 2 MB flat array body and a 16 MB batch body, as JSON.
 */
import { findUnstorable } from '../../src/http/storable-json';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function heapGrowth(body: unknown): number {
  gc!();
  gc!();
  const before = process.memoryUsage().heapUsed;
  const found = findUnstorable(body, 64);
  const after = process.memoryUsage().heapUsed;
  if (found) throw new Error(`unexpected finding: ${JSON.stringify(found)}`);
  return after - before;
}

// 2 MB of `[0,0,...]`: about a million elements.
const flat = JSON.parse(`{"payload":{"a":[${'0,'.repeat(1024 * 1024 - 1)}0]}}`) as unknown;
// 16 MB: 1,000 events of 8,000-element arrays.
const event = `{"event_name":"e","event_type":"t","payload":{"a":[${'0,'.repeat(7999)}0]}}`;
const batch = JSON.parse(
  `{"events":[${Array.from({ length: 1000 }, () => event).join(',')}]}`,
) as unknown;

process.stdout.write(JSON.stringify({ flat: heapGrowth(flat), batch: heapGrowth(batch) }));
