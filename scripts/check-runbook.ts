/**
 * `npm run runbook:check`: runs every `sh runbook:<name>` block of docs/operations.md with bash
 * against a live stack whose events are in every state the runbook covers, and checks what each
 * prints. The commands live only in the runbook; this file holds what each must print.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../src/dev/child-process';
import { runMain } from '../src/run-main';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { extractRunbookBlocks } from './support/runbook-blocks';
import { createOutage, OUTAGE_ERROR, prepareRunbookScenario } from './support/runbook-scenario';
import type { RunbookScenario } from './support/runbook-scenario';
import { startStack, waitFor, waitForStatus, waitForWorkflow } from './support/stack';
import type { EventRef, Stack } from './support/stack';

const ROOT = path.resolve(__dirname, '..');
/** Unset unless the block's check provides them, so that bash -u catches a missing one. */
const PLACEHOLDERS = ['WORKFLOW_ID', 'EVENT_ID', 'HISTORY_EVENT_ID', 'JOB_ID'];

interface BlockCheck {
  /** Placeholders for this block; may also override the operator's variables. */
  vars?: Record<string, string>;
  /** Brings the system to the state the block expects. */
  before?: () => Promise<unknown>;
  /** What the output must contain (strings) or match (patterns). */
  prints?: (string | RegExp)[];
  /** What the output must not contain. */
  omits?: string[];
  /** Throws when the output, or the state the command left, is wrong. */
  verify?: (stdout: string) => unknown;
}

function checksFor(stack: Stack, s: RunbookScenario): Record<string, BlockCheck> {
  const wf = (ref: EventRef) => ({ WORKFLOW_ID: ref.workflowId, EVENT_ID: ref.eventId });
  const ids = (...refs: EventRef[]) => refs.map((ref) => ref.workflowId);
  const [reset1, reset2] = s.outage;
  const names = SEARCH_ATTRIBUTES.map((a) => a.name);
  const namespace = `runbook-check-${process.pid}`;
  const processed = (ref: EventRef) =>
    waitForStatus(stack, ref, 'processed').then(() => waitForWorkflow(stack, ref, 'COMPLETED'));
  const oneWorkflow = (stdout: string) => {
    const rows = stdout.split('\n').filter((line) => line.includes('processEventWorkflow'));
    if (rows.length !== 1) fail(`expected one workflow, got ${rows.length}:\n${stdout}`);
  };
  const resetPoint = new RegExp(`^\\s*${s.historyEventId}\\s+\\S+\\s+WorkflowTaskCompleted`, 'm');
  let jobId = 'missing';

  return {
    'register-search-attributes': {
      // A namespace without them, so that the script has something to create.
      vars: { TEMPORAL_NAMESPACE: namespace },
      before: () => {
        const args = ['operator', 'namespace', 'create', '--namespace', namespace];
        return run(stack.temporalCli, args, operatorEnv(stack, {}));
      },
      prints: names.map((name) => `${name}: created`),
      verify: async () => {
        const { operatorService } = stack.temporal.connection;
        const listed = await operatorService.listSearchAttributes({ namespace });
        const missing = names.filter((n) => !(n in (listed.customAttributes ?? {})));
        if (missing.length > 0) fail(`not registered afterwards: ${missing.join(', ')}`);
        // Idempotence: a second run changes nothing and still succeeds.
        const script = path.join(ROOT, 'scripts', 'register-search-attributes.sh');
        const again = await run(script, [], operatorEnv(stack, { TEMPORAL_NAMESPACE: namespace }));
        expectOutput(again, { prints: names.map((name) => `${name}: already exists`) });
      },
    },
    'list-search-attributes': { prints: names.map((name) => row(name, 'Keyword')) },
    'worker-pollers': {
      prints: [row('workflow', stack.workerIdentity), row('activity', stack.workerIdentity)],
    },
    'find-workflow': { vars: wf(s.processed), prints: ids(s.processed), verify: oneWorkflow },
    describe: { vars: wf(reset1), prints: [reset1.workflowId, /Status\s+FAILED/, OUTAGE_ERROR] },
    'show-history': {
      vars: wf(reset2),
      prints: [
        'WorkflowExecutionStarted',
        'ActivityTaskFailed',
        'WorkflowExecutionFailed',
        resetPoint,
      ],
    },
    'show-history-detailed': {
      vars: wf(reset2),
      prints: ['fetchEvent', 'validatePayload', 'normalizePayload', 'markEventFailed'],
    },
    'export-history': {
      vars: wf(reset2),
      verify: (stdout) => {
        const history = parseJson(stdout) as { events?: { eventType?: string }[] };
        const types = (history.events ?? []).map((e) => e.eventType);
        if (types[0] !== 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED' || types.length < 10)
          fail(`not a full event history: ${types.slice(0, 3).join(', ')}…`);
      },
    },
    'list-running': { prints: ids(s.stuck), verify: oneWorkflow },
    'list-failed-events': {
      prints: ids(s.invalid, ...s.outage, ...s.outageBatch),
      omits: ids(s.processed),
    },
    'list-failed-workflows': { prints: ids(...s.outage, ...s.outageBatch), omits: ids(s.invalid) },
    'list-by-event-name': { prints: ids(s.processed, s.stuck), omits: ids(s.invalid, ...s.outage) },
    'count-failed-events': { prints: [/Total: 5\b/] },
    'row-status-api': {
      vars: wf(s.invalid),
      verify: (stdout) => {
        const { id, status, processing_error } = parseJson(stdout) as Record<string, unknown>;
        if (id !== s.invalid.eventId || status !== 'failed')
          fail(`expected event ${s.invalid.eventId} with status failed, got ${stdout}`);
        const validationError = /^validation_error: Payload must be an object/;
        expectOutput(String(processing_error), { prints: [validationError] });
      },
    },
    'row-status-sql': {
      vars: wf(s.invalid),
      prints: [/failed\s*\|\s*validation_error: Payload must be an object/],
    },
    'reset-first-task': {
      vars: wf(reset1),
      prints: [`Resetting workflow ${reset1.workflowId}`],
      verify: () => processed(reset1),
    },
    'reset-event-id': {
      vars: { ...wf(reset2), HISTORY_EVENT_ID: String(s.historyEventId) },
      prints: [`to event ID ${s.historyEventId}`],
      verify: async () => {
        await processed(reset2);
        // The point of resetting there: fetchEvent's result is kept, not fetched again.
        const history = await stack.temporal.workflow.getHandle(reset2.workflowId).fetchHistory();
        const fetches = (history.events ?? []).filter(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'fetchEvent',
        );
        if (fetches.length !== 1) fail(`the new run scheduled fetchEvent ${fetches.length} times`);
      },
    },
    'reset-batch': {
      verify: async (stdout) => {
        jobId = /job ID: (\S+)/.exec(stdout)?.[1] ?? fail('no batch job id in the output');
        for (const ref of s.outageBatch) await processed(ref);
        const { namespace } = stack.config.temporal;
        const service = stack.temporal.connection.workflowService;
        const state = async () =>
          (await service.describeBatchOperation({ namespace, jobId })).state;
        await waitFor(`batch job ${jobId}`, state, 2); // BATCH_OPERATION_STATE_COMPLETED
      },
    },
    'batch-describe': {
      get vars() {
        return { JOB_ID: jobId };
      },
      prints: [/State\s+Completed/, /Type\s+ResetWorkflow/, /CompletedCount\s+2\/2/],
    },
    terminate: { vars: wf(s.stuck), verify: () => waitForWorkflow(stack, s.stuck, 'TERMINATED') },
  };
}

async function main(): Promise<number> {
  const started = Date.now();
  const blocks = extractRunbookBlocks(readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8'));
  const outage = createOutage();
  const log = (msg: string) => console.log(`[runbook] ${msg}`);
  const stack = await startStack({ label: 'runbook', log, ...outage });
  let failures = 0;
  let passes = 0;
  try {
    log('driving events into every state the runbook covers');
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
        const env = operatorEnv(stack, { TOKEN: scenario.token, ...check.vars });
        // -u: a placeholder the check did not provide is an error, not an empty string.
        const stdout = await run('bash', ['-euo', 'pipefail', '-c', block.code], env);
        expectOutput(stdout, check);
        await check.verify?.(stdout);
        console.log(`✓ ${block.name} (${Date.now() - t0} ms)`);
        passes++;
      } catch (err) {
        failures++;
        console.error(`✗ ${block.name} (docs/operations.md:${block.line}): ${errorMessage(err)}`);
      }
    }
  } finally {
    await stack.stop();
  }
  log(`${blocks.length} blocks in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`runbook: ${passes} passed, ${failures} failed`);
  return failures === 0 && passes > 0 ? 0 : 1;
}

/** The variables an operator sets before using the runbook, then `vars`. */
function operatorEnv(stack: Stack, vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of PLACEHOLDERS) delete env[name];
  return Object.assign(env, {
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.config.temporal.namespace,
    TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
    DATABASE_URL: stack.databaseUrl,
    API_URL: stack.apiUrl,
    PATH: `${path.dirname(stack.temporalCli)}${path.delimiter}${process.env.PATH ?? ''}`,
    ...vars,
  });
}

/** Its stdout; throws unless it exits 0. Asynchronous: the API `curl` talks to is this process. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (c: Buffer) => (out.stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (out.stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.stdout);
      else reject(new Error(`${command} exited with ${code}\n${out.stderr || out.stdout}`));
    });
  });
}

function expectOutput(text: string, { prints = [], omits = [] }: BlockCheck): void {
  for (const p of prints) {
    if (typeof p === 'string' ? !text.includes(p) : !p.test(text))
      fail(`output lacks ${typeof p === 'string' ? `"${p}"` : p}:\n${text}`);
  }
  for (const o of omits) if (text.includes(o)) fail(`output should not contain "${o}":\n${text}`);
}

/** A table row with both cells, in either order. */
function row(a: string, b: string): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^(?=.*${esc(a)})(?=.*${esc(b)})`, 'm');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fail(`not JSON:\n${text.slice(0, 500)}`);
  }
}

function fail(msg: string): never {
  throw new Error(msg);
}

runMain(main);
