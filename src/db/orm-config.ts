import { defineConfig, UnderscoreNamingStrategy, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { migrationsList } from '../../migrations';
import { BatchSchema } from '../events/batch.entity';
import { EventSchema } from '../events/event.entity';
import { UserSchema } from '../users/user.entity';

/** The one MikroORM configuration, built from the validated service configuration. */
export function buildOrmConfig(database: { url: string; poolMax: number }): Options {
  return defineConfig({
    clientUrl: database.url,
    entities: [UserSchema, BatchSchema, EventSchema],
    extensions: [Migrator],
    // Named here because event-insert.ts names its columns by the same rule.
    namingStrategy: UnderscoreNamingStrategy,
    pool: { min: 0, max: database.poolMax },
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
