import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from './orm';

/** Runs one parameterized statement (`$1`, `$2`, ...) and returns its rows. */
export type Sql = <R = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>;

interface PgConnection {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

interface KnexClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<void>;
}

/**
 * Plain `pg` statements on the ORM's own connections, for the hot paths where building the
 * query through the ORM costs more than running it, and for large parameters: the ORM's
 * `execute` inlines every value into the SQL text (a 16 MB batch became tens of copies of
 * itself) and puts that text in its errors. Here values travel as bind parameters.
 *
 * Inside `em.transactional` the statements run on the transaction's own connection (knex's
 * transaction client hands it out and its release is a no-op); otherwise on the shared pool.
 */
export function sqlFor(em: EntityManager): Sql {
  const knex = em.getTransactionContext() ?? em.getConnection().getKnex();
  const client = (knex as unknown as { client: KnexClient }).client;
  return async <R>(text: string, values?: unknown[]) => {
    const connection = await client.acquireConnection();
    try {
      return (await connection.query(text, values)).rows as R[];
    } finally {
      await client.releaseConnection(connection);
    }
  };
}

/** {@link sqlFor} on the pool, for code that runs outside any transaction. */
export function createSql(orm: Orm): Sql {
  return sqlFor(orm.em);
}
