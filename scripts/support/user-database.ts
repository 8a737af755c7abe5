import type { EntityManager } from '@mikro-orm/postgresql';
import { loadConfig } from '../../src/config';
import { createOrm } from '../../src/db/orm';

/**
 * Runs `work` on the service's database (DATABASE_URL, or `npm start`'s), for the commands that
 * manage users. Returns 1, saying where it looked, when the database cannot be reached.
 */
export async function withUserDatabase(
  work: (em: EntityManager) => Promise<number>,
): Promise<number> {
  const config = loadConfig();
  const orm = await createOrm({ url: config.database.url, poolMax: 1 }).catch((err: Error) => err);
  if (orm instanceof Error) {
    console.error(
      `cannot reach the database at ${redactUrl(config.database.url)}: ${orm.message}\n` +
        'Is the service running (npm start)? Or set DATABASE_URL to the database it uses.',
    );
    return 1;
  }
  try {
    return await work(orm.em.fork());
  } finally {
    await orm.close(true);
  }
}

function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
