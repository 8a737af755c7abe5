/**
 * `npm run runbook:check`: runs every `sh runbook:<name>` block of docs/operations.md against a
 * live service and checks what each prints. It starts a Temporal dev server, a fresh database, a
 * worker and the API (scripts/support/live-stack.ts), drives real events into each state the
 * runbook talks about (scripts/support/runbook-scenario.ts), runs the blocks in document order
 * with bash, each with its placeholders ($WORKFLOW_ID, $EVENT_ID, ...) set as environment
 * variables, then removes everything it started. The commands live only in the runbook; this
 * file holds what each must print.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { startLiveStack, type LiveStack } from './support/live-stack';
import { extractRunbookBlocks } from './support/runbook-blocks';
import {
  createOutage,
  FAST_FAILURE_ENV,
  prepareRunbookScenario,
  type RunbookScenario,
} from './support/runbook-scenario';
import { waitForStatus, waitForWorkflow } from './support/wait-for';

const ROOT = path.resolve(__dirname, '..');
const RUNBOOK = path.join(ROOT, 'docs', 'operations.md');
const COMMAND_TIMEOUT_MS = 60_000;
/** Every placeholder a block may use; unset unless the block's check provides it. */
const PLACEHOLDERS = ['WORKFLOW_ID', 'EVENT_ID', 'HISTORY_EVENT_ID', 'JOB_ID'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** What a runbook block runs against and what it must print. */
interface BlockCheck {
  /** Placeholders for this block; may also override the operator's variables. */
  vars?: Partial<Record<Placeholder | 'TEMPORAL_NAMESPACE', string>>;
  /** Brings the system to the state the block expects (e.g. waits for a batch job). */
  before?: () => Promise<void>;
  /** Throws a message when the output (or the state the command left) is wrong. */
  verify: (out: CommandResult) => Promise<void> | void;
}

/** Shared between checks: what one block printed that a later block needs. */
const found: { jobId?: string } = {};

function checksFor(stack: LiveStack, s: RunbookScenario): Record<string, BlockCheck> {
  const wf = (ref: { workflowId: string; eventId: string }) => ({
    WORKFLOW_ID: ref.workflowId,
    EVENT_ID: ref.eventId,
  });
  const [reset1, reset2] = s.outage;
  const allNames = SEARCH_ATTRIBUTES.map((a) => a.name);
  const freshNamespace = `runbook-check-${process.pid}`;

  return {
    'register-search-attributes': {
      // A namespace without them, so that the script has something to create.
      vars: { TEMPORAL_NAMESPACE: freshNamespace },
      before: async () => {
        const created = await run(
          stack.temporalCli,
          ['operator', 'namespace', 'create', '--namespace', freshNamespace],
          { ...process.env, TEMPORAL_ADDRESS: stack.temporalAddress },
        );
        if (created.code !== 0)
          fail(`could not create namespace ${freshNamespace}: ${created.stderr}`);
      },
      verify: async (out) => {
        for (const name of allNames) includes(out.stdout, `${name}: created`);
        const listed = await stack.temporal.connection.operatorService.listSearchAttributes({
          namespace: freshNamespace,
        });
        const missing = allNames.filter((n) => !(n in (listed.customAttributes ?? {})));
        if (missing.length > 0) fail(`not registered afterwards: ${missing.join(', ')}`);
        // Idempotence: a second run changes nothing and still succeeds.
        const again = await runScript(stack, freshNamespace);
        if (again.code !== 0) fail(`second run exited ${again.code}: ${again.stderr}`);
        for (const name of allNames) includes(again.stdout, `${name}: already exists`);
      },
    },
    'list-search-attributes': {
      verify: (out) => allNames.forEach((name) => includesRow(out.stdout, name, 'Keyword')),
    },
    'worker-pollers': {
      verify: (out) => {
        includesRow(out.stdout, 'workflow', stack.workerIdentity);
        includesRow(out.stdout, 'activity', stack.workerIdentity);
      },
    },
    'find-workflow': {
      vars: wf(s.processed),
      verify: (out) => {
        includes(out.stdout, s.processed.workflowId);
        lineCount(out.stdout, 'processEventWorkflow', 1);
      },
    },
    describe: {
      vars: wf(reset1),
      verify: (out) => {
        includes(out.stdout, reset1.workflowId);
        matches(out.stdout, /Status\s+FAILED/);
        includes(out.stdout, 'simulated outage: the database refused the write');
      },
    },
    'show-history': {
      vars: wf(reset2),
      verify: (out) => {
        for (const type of [
          'WorkflowExecutionStarted',
          'ActivityTaskFailed',
          'WorkflowExecutionFailed',
        ])
          includes(out.stdout, type);
        matches(
          out.stdout,
          new RegExp(`^\\s*${s.historyEventId}\\s+\\S+\\s+WorkflowTaskCompleted`, 'm'),
        );
      },
    },
    'show-history-detailed': {
      vars: wf(reset2),
      verify: (out) => {
        for (const step of ['fetchEvent', 'validatePayload', 'normalizePayload', 'markEventFailed'])
          includes(out.stdout, step);
      },
    },
    'export-history': {
      vars: wf(reset2),
      verify: (out) => {
        const history = parseJson(out.stdout) as { events?: { eventType?: string }[] };
        const types = (history.events ?? []).map((e) => e.eventType);
        if (types[0] !== 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED' || types.length < 10)
          fail(`not a full event history: ${types.slice(0, 3).join(', ')}…`);
      },
    },
    'list-running': {
      verify: (out) => {
        includes(out.stdout, s.stuck.workflowId);
        lineCount(out.stdout, 'processEventWorkflow', 1);
      },
    },
    'list-failed-events': {
      verify: (out) => {
        for (const ref of [s.invalid, ...s.outage, ...s.outageBatch])
          includes(out.stdout, ref.workflowId);
        excludes(out.stdout, s.processed.workflowId);
      },
    },
    'list-failed-workflows': {
      verify: (out) => {
        for (const ref of [...s.outage, ...s.outageBatch]) includes(out.stdout, ref.workflowId);
        excludes(out.stdout, s.invalid.workflowId);
      },
    },
    'list-by-event-name': {
      verify: (out) => {
        for (const ref of [s.processed, s.stuck]) includes(out.stdout, ref.workflowId);
        for (const ref of [s.invalid, ...s.outage]) excludes(out.stdout, ref.workflowId);
      },
    },
    'count-failed-events': {
      verify: (out) => matches(out.stdout, /Total: 5\b/),
    },
    'row-status-api': {
      vars: wf(s.invalid),
      verify: (out) => {
        const row = parseJson(out.stdout) as Record<string, unknown>;
        if (row.id !== s.invalid.eventId || row.status !== 'failed')
          fail(`expected event ${s.invalid.eventId} with status failed, got ${out.stdout}`);
        matches(String(row.processing_error), /^validation_error: Payload must be an object/);
      },
    },
    'row-status-sql': {
      vars: wf(s.invalid),
      verify: (out) => {
        matches(out.stdout, /failed\s*\|\s*validation_error: Payload must be an object/);
      },
    },
    'reset-first-task': {
      vars: wf(reset1),
      verify: async (out) => {
        includes(out.stdout, `Resetting workflow ${reset1.workflowId}`);
        await waitForStatus(stack, reset1, 'processed');
        await waitForWorkflow(stack, reset1, 'COMPLETED');
      },
    },
    'reset-event-id': {
      vars: { ...wf(reset2), HISTORY_EVENT_ID: String(s.historyEventId) },
      verify: async (out) => {
        includes(out.stdout, `to event ID ${s.historyEventId}`);
        await waitForStatus(stack, reset2, 'processed');
        await waitForWorkflow(stack, reset2, 'COMPLETED');
        // The point of resetting there: fetchEvent's result is kept, not fetched again.
        const history = await stack.temporal.workflow.getHandle(reset2.workflowId).fetchHistory();
        const fetches = (history.events ?? []).filter(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'fetchEvent',
        );
        if (fetches.length !== 1) fail(`the new run scheduled fetchEvent ${fetches.length} times`);
      },
    },
    'reset-batch': {
      verify: async (out) => {
        const job = /job ID: (\S+)/.exec(out.stdout);
        if (!job) fail('no batch job id in the output');
        found.jobId = job![1];
        for (const ref of s.outageBatch) {
          await waitForStatus(stack, ref, 'processed');
          await waitForWorkflow(stack, ref, 'COMPLETED');
        }
      },
    },
    'batch-describe': {
      get vars() {
        return { JOB_ID: found.jobId ?? 'missing' };
      },
      before: () => waitForBatchJob(stack, found.jobId ?? 'missing'),
      verify: (out) => {
        matches(out.stdout, /State\s+Completed/);
        matches(out.stdout, /Type\s+ResetWorkflow/);
        matches(out.stdout, /CompletedCount\s+2\/2/);
      },
    },
    terminate: {
      vars: wf(s.stuck),
      verify: async () => {
        await waitForWorkflow(stack, s.stuck, 'TERMINATED');
      },
    },
  };
}

async function main(): Promise<number> {
  const started = Date.now();
  const blocks = extractRunbookBlocks(readFileSync(RUNBOOK, 'utf8'));
  const outage = createOutage();
  const stack = await startLiveStack({
    label: 'runbook',
    env: FAST_FAILURE_ENV,
    wrapActivities: outage.wrap,
    log: (msg) => console.log(`[runbook] ${msg}`),
  });
  const stopOnSignal = () => void stack.stop().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  let failures = 0;
  let passes = 0;
  try {
    console.log('[runbook] driving events into every state the runbook covers');
    const scenario = await prepareRunbookScenario(stack, outage);
    const checks = checksFor(stack, scenario);

    const unchecked = blocks.filter((b) => !(b.name in checks)).map((b) => b.name);
    const missing = Object.keys(checks).filter((name) => !blocks.some((b) => b.name === name));
    if (unchecked.length > 0) console.error(`✗ blocks without a check: ${unchecked.join(', ')}`);
    if (missing.length > 0) console.error(`✗ checks whose block is gone: ${missing.join(', ')}`);
    failures += unchecked.length + missing.length;

    for (const block of blocks) {
      const check = checks[block.name];
      if (!check) continue;
      const t0 = Date.now();
      try {
        await check.before?.();
        const out = await runBlock(block.code, blockEnv(stack, scenario, check.vars ?? {}));
        if (out.code !== 0) fail(`exited with ${out.code}\n${out.stderr || out.stdout}`);
        await check.verify(out);
        console.log(`✓ ${block.name} (${Date.now() - t0} ms)`);
        passes++;
      } catch (err) {
        failures++;
        console.error(`✗ ${block.name} (docs/operations.md:${block.line}): ${message(err)}`);
      }
    }
  } finally {
    await stack.stop();
  }
  console.log(
    `[runbook] ${blocks.length} blocks in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(`runbook: ${passes} passed, ${failures} failed`);
  return failures === 0 && passes > 0 ? 0 : 1;
}

/** The variables an operator sets before using the runbook, plus the block's placeholders. */
function blockEnv(
  stack: LiveStack,
  s: RunbookScenario,
  vars: NonNullable<BlockCheck['vars']>,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of PLACEHOLDERS) delete env[name];
  return {
    ...env,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
    DATABASE_URL: stack.databaseUrl,
    API_URL: stack.apiUrl,
    TOKEN: s.token,
    PATH: `${path.dirname(stack.temporalCli)}${path.delimiter}${process.env.PATH ?? ''}`,
    ...vars,
  };
}

/** Runs a block with bash; `-u` makes a placeholder the check did not provide an error. */
function runBlock(code: string, env: NodeJS.ProcessEnv): Promise<CommandResult> {
  return run('bash', ['-euo', 'pipefail', '-c', code], env);
}

function runScript(stack: LiveStack, namespace: string): Promise<CommandResult> {
  return run(path.join(ROOT, 'scripts', 'register-search-attributes.sh'), [], {
    ...process.env,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
    PATH: `${path.dirname(stack.temporalCli)}${path.delimiter}${process.env.PATH ?? ''}`,
  });
}

/** Asynchronous on purpose: the API answering `curl` lives in this very process. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function waitForBatchJob(stack: LiveStack, jobId: string): Promise<void> {
  const deadline = Date.now() + COMMAND_TIMEOUT_MS;
  for (;;) {
    const job = await stack.temporal.connection.workflowService.describeBatchOperation({
      namespace: stack.config.temporal.namespace,
      jobId,
    });
    // BATCH_OPERATION_STATE_COMPLETED
    if (job.state === 2) return;
    if (Date.now() > deadline) fail(`batch job ${jobId} still in state ${job.state}`);
    await delay(200);
  }
}

function fail(msg: string): never {
  throw new Error(msg);
}

function includes(text: string, wanted: string): void {
  if (!text.includes(wanted)) fail(`output lacks "${wanted}":\n${text}`);
}

function excludes(text: string, unwanted: string): void {
  if (text.includes(unwanted)) fail(`output should not contain "${unwanted}":\n${text}`);
}

function matches(text: string, pattern: RegExp): void {
  if (!pattern.test(text)) fail(`output does not match ${pattern}:\n${text}`);
}

/** A table row containing both cells. */
function includesRow(text: string, a: string, b: string): void {
  if (!text.split('\n').some((line) => line.includes(a) && line.includes(b)))
    fail(`no row with "${a}" and "${b}":\n${text}`);
}

function lineCount(text: string, marker: string, count: number): void {
  const n = text.split('\n').filter((line) => line.includes(marker)).length;
  if (n !== count) fail(`expected ${count} row(s) with "${marker}", got ${n}:\n${text}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fail(`not JSON:\n${text.slice(0, 500)}`);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
