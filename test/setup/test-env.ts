import { readFileSync } from 'node:fs';

/** What global setup prepared, shared with every test file through a small JSON file. */
export interface TestEnv {
  temporalAddress: string;
  databaseUrl: string;
  workflowBundlePath: string;
}

/** Global setup sets this; test workers inherit it because they start afterwards. */
export const TEST_ENV_VARIABLE = 'EVENT_INGESTION_TEST_ENV';

export function readTestEnv(): TestEnv {
  const file = process.env[TEST_ENV_VARIABLE];
  if (!file)
    throw new Error(`${TEST_ENV_VARIABLE} is not set: run the tests through jest (npm test)`);
  return JSON.parse(readFileSync(file, 'utf8')) as TestEnv;
}
