import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../src/config';
import { createOrm } from '../src/db/orm';
import { runMain } from '../src/run-main';
import { createUser, EmailTakenError } from '../src/users/user.service';

/** `npm run users:create -- --email you@example.com` prints `{id, email, token}` as one JSON line. */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { email: { type: 'string' } } });
  const email = z.email().safeParse(values.email);
  if (!email.success) {
    console.error('usage: npm run users:create -- --email <email>  (a valid e-mail address)');
    return 2;
  }
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
    console.log(JSON.stringify(await createUser(orm.em.fork(), email.data)));
    return 0;
  } finally {
    await orm.close(true);
  }
}

function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

runMain(main, [EmailTakenError]);
