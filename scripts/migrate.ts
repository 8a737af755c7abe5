import { ConfigError, loadConfig } from '../src/config';
import { runMigrations } from '../src/db/migrate';

async function main(): Promise<void> {
  const config = loadConfig();
  const applied = await runMigrations(config.database.url);
  console.log(JSON.stringify({ applied }));
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
