import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import { traceQueries } from '../../src/db/query-tracing';
import { hashToken } from '../../src/users/tokens';
import { startTracing, type Tracing } from '../../src/tracing';
import { workflowInterceptorModules } from '../../src/worker/workflow-interceptor-modules';
import { Harness } from '../support/harness';
import { basicAuth } from '../support/tracking';
import { readTestEnv } from '../setup/test-env';

// One POST, one trace: the HTTP request, the workflow start, the workflow, each activity and
// the PostgreSQL queries, exported to memory instead of OTLP.

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let untraceQueries: () => void;
let h: Harness;
let dir: string;

beforeAll(async () => {
  tracing = startTracing({ otlpEndpoint: undefined, serviceName: 'test' }, 'api', { exporter })!;
  untraceQueries = traceQueries(tracing.tracer);
  // The shared test bundle has no tracing interceptors; this one does, as the worker's own would.
  dir = mkdtempSync(join(tmpdir(), 'traced-bundle-'));
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    workflowInterceptorModules: workflowInterceptorModules(true),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
  });
  writeFileSync(join(dir, 'bundle.js'), code);
  h = await Harness.start({ tracing, workflowBundlePath: join(dir, 'bundle.js') });
}, 120_000);

afterAll(async () => {
  await h?.close();
  untraceQueries?.();
  await tracing?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

/** Span names indented under their parents, the way the test prints them. */
function tree(spans: ReadableSpan[]): string {
  const byParent = new Map<string | undefined, ReadableSpan[]>();
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  for (const s of spans) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    byParent.set(parent, [...(byParent.get(parent) ?? []), s]);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    const children = (byParent.get(parent) ?? []).sort(
      (a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1],
    );
    for (const s of children) {
      lines.push(`${'  '.repeat(depth)}${s.name}  [${s.spanContext().spanId}]`);
      walk(s.spanContext().spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines.join('\n');
}

it('one POST yields one trace holding the workflow and each of its activities', async () => {
  const user = await h.createUser();
  const res = await h.request('POST', '/api/v1/events', {
    token: user.token,
    body: { event_name: 'page_view', event_type: 'engagement', payload: { page: '/' } },
  });
  expect(res.status).toBe(202);
  await h.waitForEvent(user.token, res.body.event_id);

  const post = () => exporter.getFinishedSpans().find((s) => s.name === 'POST /api/v1/events')!;
  const traceOf = () =>
    exporter
      .getFinishedSpans()
      .filter((s) => s.spanContext().traceId === post().spanContext().traceId);
  // Workflow spans reach the exporter through a sink once the workflow's last task completes.
  const deadline = Date.now() + 10_000;
  while (!traceOf().some((s) => s.name.startsWith('RunWorkflow:')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const spans = traceOf();
  console.log(`trace ${post().spanContext().traceId} of one POST:\n${tree(spans)}`);

  const names = spans.map((s) => s.name);
  expect(names).toEqual(
    expect.arrayContaining([
      'POST /api/v1/events',
      'StartWorkflow:processEventWorkflow',
      'RunWorkflow:processEventWorkflow',
    ]),
  );
  const activities = names.filter((n) => n.startsWith('RunActivity:'));
  expect(activities.length).toBeGreaterThanOrEqual(3);
  expect(names.some((n) => n.startsWith('pg '))).toBe(true);
  // Every span but the request's has its parent in the same trace: one tree, not fragments.
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const roots = spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
  expect(roots.map((s) => s.name)).toEqual(['POST /api/v1/events']);
  // Queries run by activities hang under them.
  const activityIds = new Set(
    spans.filter((s) => s.name.startsWith('RunActivity:')).map((s) => s.spanContext().spanId),
  );
  expect(spans.some((s) => s.name.startsWith('pg ') && activityIds.has(s.parentSpanId!))).toBe(
    true,
  );
  // The run reads its payload once: normalize takes what validate accepted, and only writes.
  const statementsOf = (activity: string) => {
    const id = spans.find((s) => s.name === `RunActivity:${activity}`)?.spanContext().spanId;
    return spans.filter((s) => s.parentSpanId === id).map((s) => s.name);
  };
  expect(statementsOf('validatePayload')).toEqual(['pg select']);
  expect(statementsOf('normalizePayload')).toEqual(['pg update']);
});

it('no traced statement holds a literal value: keys, ids and payloads are placeholders', async () => {
  exporter.reset();
  const user = await h.createUser();
  const marker = `subject-${Date.now()}`;
  const tracked = await h.request('POST', '/v1/batch', {
    headers: { authorization: basicAuth(user.writeKey) },
    body: { batch: [{ type: 'track', event: 'Traced', userId: marker, properties: { marker } }] },
  });
  const listed = await h.request('GET', `/api/v1/events?subject_user_id=${marker}`, {
    token: user.token,
  });
  const rotated = await h.request('POST', '/api/v1/write-key/rotate', { token: user.token });

  const statements = exporter
    .getFinishedSpans()
    .map((s) => s.attributes['db.statement'])
    .filter((s): s is string => typeof s === 'string');
  const secrets = [user.id, hashToken(user.token), marker];
  if (rotated.status === 200) {
    secrets.push(hashToken(user.writeKey), hashToken(rotated.body.write_key));
  }
  for (const statement of statements) {
    for (const secret of secrets) expect(statement).not.toContain(secret);
    expect(statement).not.toMatch(/'/);
  }
  expect([tracked.status, listed.status, rotated.status]).toEqual([200, 200, 200]);
  // The key lookups (MikroORM inlines the hash), the tracking insert, the filtered listing.
  expect(statements.some((s) => /"token_hash" = \?/.test(s))).toBe(true);
  expect(statements.some((s) => /"write_key_hash" = \?/.test(s))).toBe(true);
});

it('a failed query records its SQLSTATE, not the value PostgreSQL quotes', async () => {
  exporter.reset();
  const db = new PgClient({ connectionString: readTestEnv().databaseUrl });
  await db.connect();
  try {
    await expect(db.query('select $1::uuid', ['not-a-uuid-SECRET'])).rejects.toThrow(/SECRET/);
  } finally {
    await db.end();
  }
  // The worker's own queries may land beside it: this one is told by its statement.
  const span = exporter
    .getFinishedSpans()
    .find((s) => s.attributes['db.statement'] === 'select $1::uuid')!;
  expect(span.events.map((e) => e.attributes)).toEqual([
    expect.objectContaining({
      'exception.type': 'error',
      'exception.message': 'database error: 22P02 invalid_text_representation',
    }),
  ]);
  expect(JSON.stringify(span.events)).not.toContain('SECRET');
});

it('is off, registering nothing, without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  expect(startTracing({ otlpEndpoint: undefined, serviceName: 'test' }, 'worker')).toBeUndefined();
});
