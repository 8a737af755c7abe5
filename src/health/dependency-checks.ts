import type { Orm } from '../db/orm';
import type { ReadinessCheck } from './readiness';

/** PostgreSQL answers; when not, the driver's error, so the probe can name its code. */
export function databaseCheck(orm: Orm): ReadinessCheck {
  return {
    name: 'database',
    check: async () => {
      const result = await orm.checkConnection();
      if (!result.ok) throw result.error ?? new Error(result.reason);
      return true;
    },
  };
}

/**
 * Every migration this build knows is applied. Once true it stays true for the process (a
 * migration is never undone under it), so later probes cost nothing.
 */
export function migrationsCheck(orm: Orm): ReadinessCheck {
  let applied = false;
  return {
    name: 'migrations',
    check: async () => {
      applied ||= (await orm.getMigrator().getPendingMigrations()).length === 0;
      return applied;
    },
  };
}

/** Temporal answers a cheap call on the given connection. */
export function temporalCheck(getSystemInfo: () => Promise<unknown>): ReadinessCheck {
  return {
    name: 'temporal',
    check: async () => {
      await getSystemInfo();
      return true;
    },
  };
}
