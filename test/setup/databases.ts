import { Client as PgClient } from 'pg';
import { runMigrations } from '../../src/db/migrate';

/** Where tests create their databases; global setup may point it at an embedded server. */
export const DEFAULT_ADMIN_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const adminDatabaseUrl = (): string =>
  process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_ADMIN_DATABASE_URL;

/** Drops and creates `name` next to the admin database; returns its URL. */
export async function recreateDatabase(
  name: string,
  adminUrl = adminDatabaseUrl(),
): Promise<string> {
  const pg = new PgClient({ connectionString: adminUrl });
  await pg.connect();
  try {
    await pg.query(`drop database if exists "${name}" with (force)`);
    await pg.query(`create database "${name}"`);
  } finally {
    await pg.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A migrated database of a test's own, for tests whose subject scans the whole database (the
 * outbox relay) and so must not see other test files' rows.
 */
export async function createTestDatabase(suffix: string): Promise<string> {
  const base = process.env.TEST_DATABASE_NAME ?? 'event_ingestion_test';
  const url = await recreateDatabase(`${base}_${suffix}`);
  await runMigrations(url);
  return url;
}
