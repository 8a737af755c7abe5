import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  findFreePort,
  serviceBaseEnv,
  spawnEntryPoint,
  waitForHttp,
} from '../../src/dev/child-process';
import { readTestEnv } from '../setup/test-env';

/** The API as a process of its own, for tests that signal it or read its memory. */
export interface ApiProcess {
  child: ChildProcess;
  port: number;
  url: string;
  /** Everything it printed so far. */
  output(): string;
  /** SIGKILL, unless it already exited. */
  kill(): void;
}

/**
 * Starts `src/server.ts` on a free port against the test database and Temporal server, and
 * waits until `/health` answers. No worker polls its task queue: events are accepted and wait.
 */
export async function startApiProcess(
  options: { env?: Record<string, string>; nodeArgs?: string[] } = {},
): Promise<ApiProcess> {
  const testEnv = readTestEnv();
  const port = await findFreePort();
  const api = spawnEntryPoint('src/server.ts', {
    nodeFlags: options.nodeArgs,
    tailLines: 200,
    env: {
      ...serviceBaseEnv(),
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      DATABASE_URL: testEnv.databaseUrl,
      TEMPORAL_ADDRESS: testEnv.temporalAddress,
      TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
      // The shared database holds other test files' rows: no process of ours sweeps it.
      OUTBOX_INTERVAL_MS: '0',
      RUN_SWEEP_INTERVAL_MS: '0',
      ...options.env,
    },
  });
  const { child } = api;
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(api, 'The API', `${url}/health`).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    child,
    port,
    url,
    output: () => api.output(),
    kill: () => {
      if (api.running()) child.kill('SIGKILL');
    },
  };
}
