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
 * Plain `pg` statements on the ORM's own connection pool, for the hot paths where building the
 * query through the ORM costs more than running it. Same pool, same limits, no second pool.
 */
export function createSql(orm: Orm): Sql {
  const client = orm.em.getConnection().getKnex().client as KnexClient;
  return async <R>(text: string, values?: unknown[]) => {
    const connection = await client.acquireConnection();
    try {
      return (await connection.query(text, values)).rows as R[];
    } finally {
      await client.releaseConnection(connection);
    }
  };
}
