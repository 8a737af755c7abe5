import { createScratchDatabase } from '../../src/dev/scratch-database';

/** Where tests create their databases; global setup may point it at an embedded server. */
export const DEFAULT_ADMIN_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const adminDatabaseUrl = (): string =>
  process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_ADMIN_DATABASE_URL;

/**
 * A freshly created and migrated database of the given name, next to the admin database. The
 * shared test database, and one of a test's own for tests whose subject scans the whole
 * database (the outbox relay) and so must not see other test files' rows.
 */
export async function createTestDatabase(name: string): Promise<string> {
  return (await createScratchDatabase(adminDatabaseUrl(), name)).url;
}

/** The name of a test's own database, derived from the shared one's. */
export const ownDatabaseName = (suffix: string): string =>
  `${process.env.TEST_DATABASE_NAME ?? 'event_ingestion_test'}_${suffix}`;
