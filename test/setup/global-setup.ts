import { writeFileSync } from 'node:fs';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflows } from '../../scripts/bundle-workflows';
import { ensureTemporalCli } from '../../src/dev/temporal-cli';
import { devServerDynamicConfigArgs } from '../../src/dev/temporal-dev-server';
import { findFreePort } from '../../src/dev/child-process';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTE_KEYS } from '../../workflows/search-attributes';
import { Client as PgClient } from 'pg';
import { startEmbeddedPostgres, type RunningPostgres } from '../../src/dev/embedded-postgres';
import { adminDatabaseUrl, createTestDatabase } from './databases';
import { TEST_ENV_VARIABLE, type TestEnv } from './test-env';

declare global {
  // Shared with global-teardown, which runs in the same process.
  var __temporalDevServer: TestWorkflowEnvironment | undefined;
  var __embeddedPostgres: RunningPostgres | undefined;
}

/**
 * Prepares what every test file shares: one real Temporal dev server (or the one named by
 * TEST_TEMPORAL_ADDRESS), a freshly migrated PostgreSQL database, and one workflow bundle.
 */
export default async function globalSetup(): Promise<void> {
  const dbName = process.env.TEST_DATABASE_NAME ?? 'event_ingestion_test';
  const dir = await mkdtemp(join(tmpdir(), 'event-ingestion-test-'));

  const [temporalAddress, databaseUrl, workflowBundlePath] = await Promise.all([
    startTemporal(),
    ensurePostgres(dir).then(() => createTestDatabase(dbName)),
    bundle(dir),
  ]);

  const env: TestEnv = { temporalAddress, databaseUrl, workflowBundlePath };
  const file = join(dir, 'test-env.json');
  writeFileSync(file, JSON.stringify(env));
  process.env[TEST_ENV_VARIABLE] = file;
}

async function startTemporal(): Promise<string> {
  if (process.env.TEST_TEMPORAL_ADDRESS) return process.env.TEST_TEMPORAL_ADDRESS;
  const path = await ensureTemporalCli((m) => console.log(m));
  // The SDK's own dev server, from the CLI found here: its download would not reach GitHub.
  const server = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path },
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      extraArgs: devServerDynamicConfigArgs(),
      log: { format: 'pretty', level: 'warn' },
    },
  });
  globalThis.__temporalDevServer = server;
  return server.address;
}

/**
 * Uses the PostgreSQL at TEST_DATABASE_ADMIN_URL, or at 127.0.0.1:5432; when neither is set
 * and nothing answers there, starts an embedded one, so `npm test` needs no setup. Test
 * workers inherit the URL through the environment.
 */
async function ensurePostgres(dir: string): Promise<void> {
  if (process.env.TEST_DATABASE_ADMIN_URL) return;
  const pg = new PgClient({ connectionString: adminDatabaseUrl(), connectionTimeoutMillis: 3000 });
  const reachable = await pg.connect().then(
    () => true,
    () => false,
  );
  await pg.end().catch(() => undefined);
  if (reachable) return;
  console.log('No PostgreSQL at 127.0.0.1:5432: starting an embedded one for the tests');
  // As root, PostgreSQL runs as its own OS user, which must be able to enter the folder.
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres({
    dataDir: join(dir, 'postgres'),
    port: await findFreePort(),
    database: 'postgres',
  });
  globalThis.__embeddedPostgres = server;
  process.env.TEST_DATABASE_ADMIN_URL = server.url;
}

async function bundle(dir: string): Promise<string> {
  const path = join(dir, 'workflow-bundle.js');
  await bundleWorkflows(path);
  return path;
}
