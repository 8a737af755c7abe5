import { MikroORM } from '@mikro-orm/postgresql';
import { buildOrmConfig } from './orm-config';

export type Orm = MikroORM;

/** Connects to PostgreSQL; callers own the returned ORM and must `close()` it. */
export async function createOrm(database: { url: string; poolMax: number }): Promise<Orm> {
  return MikroORM.init(buildOrmConfig(database));
}
