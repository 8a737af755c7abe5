import { Client as PgClient } from 'pg';
import { runMigrations } from '../db/migrate';

/**
 * A connection allowed to create databases, where tests and tools make theirs:
 * TEST_DATABASE_ADMIN_URL, else the PostgreSQL on 127.0.0.1:5432.
 */
export const adminDatabaseUrl = (): string =>
  process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A throwaway, migrated database. */
export interface ScratchDatabase {
  url: string;
  /** Drops the database, closing whatever connections are left. */
  drop(): Promise<void>;
}

/**
 * Creates database `name` afresh (dropping one of that name first) through `adminUrl`, a
 * connection allowed to create databases, and applies the migrations.
 */
export async function createScratchDatabase(
  name: string,
  adminUrl = adminDatabaseUrl(),
): Promise<ScratchDatabase> {
  const admin = (sql: string) => withAdmin(adminUrl, (pg) => pg.query(sql));
  await admin(`drop database if exists "${name}" with (force)`);
  await admin(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await runMigrations(url.toString());
  return {
    url: url.toString(),
    drop: async () => {
      await admin(`drop database if exists "${name}" with (force)`);
    },
  };
}

async function withAdmin<T>(adminUrl: string, fn: (pg: PgClient) => Promise<T>): Promise<T> {
  const pg = new PgClient({ connectionString: adminUrl });
  await pg.connect();
  try {
    return await fn(pg);
  } finally {
    await pg.end();
  }
}
