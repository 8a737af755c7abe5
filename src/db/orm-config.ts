import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { migrationsList } from '../../migrations';
import { BatchSchema } from '../events/batch.entity';
import { EventSchema } from '../events/event.entity';
import { UserSchema } from '../users/user.entity';

/** Where the database is and how a process uses it. */
export interface DatabaseOptions {
  url: string;
  poolMax: number;
  /** PostgreSQL's statement_timeout on every connection of the pool; 0 or absent is none. */
  statementTimeoutMs?: number;
}

/** The one MikroORM configuration, built from the validated service configuration. */
export function buildOrmConfig(database: DatabaseOptions): Options {
  const timeout = database.statementTimeoutMs ?? 0;
  return defineConfig({
    clientUrl: database.url,
    entities: [UserSchema, BatchSchema, EventSchema],
    extensions: [Migrator],
    pool: { min: 0, max: database.poolMax },
    // A startup parameter of each connection (pg sends it), so it holds for the ORM's queries
    // and for the plain statements of `sql.ts` alike, with no extra round trip.
    ...(timeout > 0 && { driverOptions: { connection: { statement_timeout: timeout } } }),
    migrations: {
      migrationsList,
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      silent: true,
      // Migrations are written by hand; no schema snapshot to keep in sync.
      snapshot: false,
    },
    // Entities are defined with defineEntity, so no reflection of TS types is needed.
    discovery: { warnWhenNoEntities: true },
    debug: false,
  });
}
