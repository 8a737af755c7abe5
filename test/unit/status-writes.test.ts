import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Every change of an event's `status` (and of `processed`, which follows it) is one statement of
 * src/events/event-transitions.ts, and every state a row starts in is written by its insert in
 * src/events/event-insert.ts: the table of moves in src/events/event-status.ts is then the whole
 * truth. This finds any other statement that writes either column.
 */
const ROOT = path.resolve(__dirname, '../..');
const OWNERS = ['src/events/event-transitions.ts', 'src/events/event-insert.ts'];
const PRODUCT = ['src', 'activities', 'workflows', 'scripts'];

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(rel);
    return entry.name.endsWith('.ts') ? [rel] : [];
  });
}

/** The statements of `text` that write `status` or `processed` of events, by their first line. */
export function statusWrites(text: string): string[] {
  const writes: string[] = [];
  const sets =
    /update\s+"?events"?(?:\s+(?:as\s+)?\w+)?\s+set\b([\s\S]*?)(?=\bwhere\b|\bfrom\b|`)/gi;
  for (const m of text.matchAll(sets)) {
    if (/\b(status|processed)\s*=|setStatus\(/i.test(m[1]!)) writes.push(m[0].split('\n')[0]!);
  }
  // A column list built at run time (`${...}`) may hold either column: counted as a write.
  const inserts = /insert\s+into\s+"?events"?\s*\(((?:[^)$]|\$\{[^}]*\})*)\)/gi;
  for (const m of text.matchAll(inserts)) {
    if (/\b(status|processed)\b|\$\{/i.test(m[1]!)) writes.push(m[0].split('\n')[0]!);
  }
  const orm = /native(?:Update|Insert)\(\s*EventSchema\b[\s\S]*?\)\s*;/g;
  for (const m of text.matchAll(orm)) {
    if (/\b(status|processed)\s*:/.test(m[0])) writes.push(m[0].split('\n')[0]!);
  }
  return writes;
}

it('finds writes of status and processed in SQL and through the ORM', () => {
  expect(
    statusWrites(`
      await sql(\`update events set status = 'failed', updated_at = now() where id = $1\`);
      await sql(\`update events e
                    set processed = false from x where e.id = x.id\`);
      await sql(\`update events set \${setStatus('queued')} where id = $1\`);
      await sql(\`update events set properties = $2 where id = $1 and status = 'processing'\`);
      await sql(\`insert into events (id, status) values ($1, 'received')\`);
      await sql(\`insert into events (\${COLUMNS}, plan_version) select 1\`);
      await sql(\`insert into events (id, payload) values ($1, $2)\`);
      await em.nativeUpdate(EventSchema, { id }, { status: 'received' });
      await em.nativeUpdate(EventSchema, { id }, { lastError: null });
    `),
  ).toEqual([
    "update events set status = 'failed', updated_at = now() ",
    'update events e',
    "update events set ${setStatus('queued')} ",
    'insert into events (id, status)',
    'insert into events (${COLUMNS}, plan_version)',
    "nativeUpdate(EventSchema, { id }, { status: 'received' });",
  ]);
});

it('finds the moves where the table of event-status.ts says they are', () => {
  const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
  expect(statusWrites(read('src/events/event-transitions.ts')).length).toBeGreaterThanOrEqual(10);
  expect(statusWrites(read('src/events/event-insert.ts')).length).toBeGreaterThanOrEqual(1);
});

it('finds no other statement that writes status or processed', () => {
  const elsewhere = PRODUCT.flatMap(sourceFiles)
    .filter((file) => !OWNERS.includes(file))
    .flatMap((file) =>
      statusWrites(readFileSync(path.join(ROOT, file), 'utf8')).map((w) => `${file}: ${w}`),
    );
  expect(elsewhere).toEqual([]);
});
