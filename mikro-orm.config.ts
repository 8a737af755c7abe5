import { loadConfig } from './src/config';
import { buildOrmConfig } from './src/db/orm-config';

/** Used by the `mikro-orm` CLI (e.g. `npx mikro-orm migration:create`). */
export default buildOrmConfig(loadConfig().database);
