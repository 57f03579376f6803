/** PostgreSQL connections one process keeps open unless DATABASE_POOL_SIZE says otherwise (config.ts, store.ts). */
export const DEFAULT_POOL_SIZE = 10;
