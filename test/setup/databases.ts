import { adminDatabaseUrl, createScratchDatabase } from '../../src/dev/scratch-database';

// Global setup may point TEST_DATABASE_ADMIN_URL at an embedded server.
export { adminDatabaseUrl };

/**
 * A freshly created and migrated database of the given name, next to the admin database. The
 * shared test database, and one of a test's own for tests whose subject scans the whole
 * database (the outbox relay) and so must not see other test files' rows.
 */
export async function createTestDatabase(name: string): Promise<string> {
  return (await createScratchDatabase(name)).url;
}

/** The name of a test's own database, derived from the shared one's. */
export const ownDatabaseName = (suffix: string): string =>
  `${process.env.TEST_DATABASE_NAME ?? 'event_ingestion_test'}_${suffix}`;
