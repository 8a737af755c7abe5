import { loadConfig } from '../src/config';
import { runMigrations } from '../src/db/migrate';
import { runMain } from '../src/run-main';

async function main(): Promise<void> {
  const config = loadConfig();
  const applied = await runMigrations(config.database.url);
  console.log(JSON.stringify({ applied }));
}

runMain(main);
