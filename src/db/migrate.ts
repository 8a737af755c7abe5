import { MikroORM } from '@mikro-orm/postgresql';
import { buildOrmConfig } from './orm-config';

/** Applies every pending migration in one transaction; a no-op when the schema is current. */
export async function runMigrations(databaseUrl: string): Promise<string[]> {
  const orm = await MikroORM.init(buildOrmConfig({ url: databaseUrl, poolMax: 2 }));
  try {
    const applied = await orm.getMigrator().up();
    return applied.map((m) => m.name);
  } finally {
    await orm.close(true);
  }
}
