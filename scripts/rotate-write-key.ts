import { parseArgs } from 'node:util';
import { z } from 'zod';
import { runMain } from '../src/run-main';
import { rotateWriteKey } from '../src/users/user.service';
import { withUserDatabase } from './support/user-database';

/**
 * `npm run users:rotate-write-key -- --email you@example.com` gives the user a new write key
 * (the previous one stops working at once) and prints `{id, email, write_key}` as one JSON line.
 * A user created before write keys existed gets its first one this way.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { email: { type: 'string' } } });
  const email = z.email().safeParse(values.email);
  if (!email.success) {
    console.error('usage: npm run users:rotate-write-key -- --email <email>');
    return 2;
  }
  return withUserDatabase(async (em) => {
    const rotated = await rotateWriteKey(em, { email: email.data });
    if (!rotated) {
      console.error(`no user with e-mail ${email.data}`);
      return 1;
    }
    console.log(JSON.stringify(rotated));
    return 0;
  });
}

runMain(main);
