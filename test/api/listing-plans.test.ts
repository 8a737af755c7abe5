import { Client as PgClient } from 'pg';
import { listStatement } from '../../src/events/event-list';
import type { ListEventsQuery } from '../../src/events/event.schemas';
import { createTestDatabase, ownDatabaseName } from '../setup/databases';

/**
 * The listing's statement, planned by PostgreSQL over one large account, reads a few pages for
 * any filter: an index leads it to the matching events, newest first, rather than through the
 * account's events one by one. The values below match few or none of the account's events,
 * where a missing index costs most (a typo, a status nothing is in).
 */
const EVENTS = 40_000;
const ACCOUNT = '00000000-0000-7000-8000-00000000000a';
/** A page of 50 through an index reads a few dozen pages; the whole account reads thousands. */
const MAX_PAGES_READ = 150;
/**
 * Sorting what a small partial index holds (the few unfinished events) is as cheap as reading
 * an index in order; sorting the account's matching events is what a missing index costs.
 */
const MAX_ROWS_SORTED = 200;

let pg: PgClient;

/** The id the fill below gives event `g`, as a uuid. */
function idOf(g: number): string {
  const hex = `${(1700000000000 + g * 1000).toString(16).padStart(12, '0')}70008${g.toString(16).padStart(15, '0')}`;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

beforeAll(async () => {
  const url = await createTestDatabase(ownDatabaseName('listing_plans'));
  pg = new PgClient({ connectionString: url });
  await pg.connect();
  await pg.query(`insert into users (id, email, token_hash) values ($1, 'big@example.com', 'h')`, [
    ACCOUNT,
  ]);
  // Time-ordered ids, as uuidv7 makes them; mostly processed, a few failed or unfinished, a few
  // names most events have and a tail of rare ones.
  await pg.query(
    `insert into events (id, user_id, event_name, event_type, status, processed, workflow_id,
                         received_at, event_time, created_at, updated_at, subject_user_id,
                         anonymous_id)
     select (lpad(to_hex(1700000000000 + g * 1000), 12, '0') || '7000' || '8'
               || lpad(to_hex(g), 15, '0'))::uuid,
            $1, case when g % 10 < 6 then 'page_view' else 'event_' || g % 97 end,
            case when g % 100 < 90 then 'track' else 'identify' end,
            case when g > $2 - 5 then 'queued' when g % 50 = 0 then 'failed' else 'processed' end,
            g % 50 <> 0 and g <= $2 - 5, 'event-' || g, now(), now(), now(), now(),
            'u-' || g % 2000, 'a-' || g % 3000
       from generate_series(1, $2::int) g`,
    [ACCOUNT, EVENTS],
  );
  await pg.query('analyze events');
}, 120_000);
afterAll(() => pg?.end());

/** How many pages the listing reads, and its plan's nodes, for the filters of `query`. */
async function planOf(query: Partial<ListEventsQuery>) {
  const { text, values } = listStatement(['id', 'status'], ACCOUNT, { limit: 50, ...query });
  const { rows } = await pg.query(`explain (analyze, buffers, format json) ${text}`, values);
  const plan = rows[0]['QUERY PLAN'][0].Plan;
  const nodes: string[] = [];
  let rowsSorted = 0;
  const walk = (n: any): void => {
    nodes.push(`${n['Node Type']}${n['Index Name'] ? ` on ${n['Index Name']}` : ''}`);
    if (n['Node Type'] === 'Sort') {
      for (const child of n.Plans ?? []) rowsSorted += child['Actual Rows'] * child['Actual Loops'];
    }
    for (const child of n.Plans ?? []) walk(child);
  };
  walk(plan);
  return { pages: plan['Shared Hit Blocks'] + plan['Shared Read Blocks'], nodes, rowsSorted };
}

it.each<[string, Partial<ListEventsQuery>]>([
  ['no filter', {}],
  ['a status nothing is in', { status: 'processing' }],
  ['a status few are in', { status: 'queued' }],
  ['failed', { status: 'failed' }],
  ['an event_name no event has', { event_name: 'Order Complted' }],
  ['a rare event_name', { event_name: 'event_7' }],
  ['an event_type no event has', { event_type: 'alais' }],
  ['a rare event_type', { event_type: 'identify' }],
  ['a subject_user_id', { subject_user_id: 'u-7' }],
  ['an anonymous_id', { anonymous_id: 'a-7' }],
  ['failed and a common event_name', { status: 'failed', event_name: 'page_view' }],
  ['a rare event_name and a common event_type', { event_name: 'event_7', event_type: 'track' }],
  [
    'a rare event_name after a cursor half way',
    { event_name: 'event_7', cursor: idOf(EVENTS / 2) },
  ],
])('%s: reads a few pages through an index', async (_name, query) => {
  const { pages, nodes, rowsSorted } = await planOf(query);
  const read = { nodes, pages, rowsSorted };
  expect({ ...read, few: pages <= MAX_PAGES_READ && rowsSorted <= MAX_ROWS_SORTED }).toEqual({
    ...read,
    few: true,
  });
  expect(nodes.join(' > ')).not.toMatch(/Seq Scan/);
});
