import { parseArgs } from 'node:util';
import { z } from 'zod';
import { runMain } from '../src/run-main';
import { createUser, EmailTakenError } from '../src/users/user.service';
import { withUserDatabase } from './support/user-database';

/**
 * `npm run users:create -- --email you@example.com` prints `{id, email, token, write_key}` as
 * one JSON line: the API token for the API, the write key for web pages and apps.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { email: { type: 'string' } } });
  const email = z.email().safeParse(values.email);
  if (!email.success) {
    console.error('usage: npm run users:create -- --email <email>  (a valid e-mail address)');
    return 2;
  }
  return withUserDatabase(async (em) => {
    console.log(JSON.stringify(await createUser(em, email.data)));
    return 0;
  });
}

runMain(main, [EmailTakenError]);
