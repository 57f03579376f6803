import { Kysely, Migrator, PostgresDialect, sql, type MigrationProvider, type RawBuilder } from 'kysely';
import { DEFAULT_POOL_SIZE } from './defaults.js';
import type pg from 'pg';
import { startEmbedded, type EmbeddedStart } from './embedded-start.js';
import { BUILT_STORE_TEMPLATE } from './store-template.js';
import { migrations } from './migrations/index.js';
import { PostgresNotifications, type Notifications } from './notifications.js';
import { INT8_OID, PGlitePool, type PoolStats } from './pglite-pool.js';
import { PreparedStatementPool } from './prepared-pool.js';
import { NO_READ_CACHE, ReadCache, type Reads } from './read-cache.js';
import { SharedReader } from './shared-reader.js';
import type { Database } from './types.js';

export type StoreKind = 'pglite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  /**
   * For short single-statement reads outside transactions (Show's and List's row versions): on
   * PostgreSQL one connection they share, written to once per turn of the event loop (SharedReader);
   * on the embedded store the same as `db`.
   */
  hotReads: Kysely<Database>;
  kind: StoreKind;
  /** Where the data lives, for messages: a directory or a redacted URL. */
  location: string;
  /** Hot reads kept in memory until the next write: the embedded store only (see ReadCache). */
  reads: Reads;
  /** LISTEN/NOTIFY: across processes on PostgreSQL, in process on the embedded store. */
  notifications: Notifications;
  /**
   * The embedded store only: a consistent copy of its data directory as a gzipped tarball (what
   * PGlite's loadDataDir takes back), taken between two transactions.
   */
  dumpDataDir?: () => Promise<Uint8Array>;
  /** The connection pool right now (metrics). */
  poolStats(): PoolStats;
  close(): Promise<void>;
}

export interface StoreOptions {
  databaseUrl?: string | undefined;
  /** Directory of the embedded store; undefined keeps it in memory (tests). */
  dataDir?: string | undefined;
  poolSize?: number;
  /**
   * A migrated, empty embedded store to copy when `dataDir` has none yet (see store-template.ts);
   * unset: the one the build made (none when run from sources); missing: initialised from scratch.
   */
  template?: string | undefined;
  /** The embedded store, already started by the caller (see embedded-start.ts). */
  started?: EmbeddedStart | undefined;
}

const parseInt8 = (value: string): number => Number(value);

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/**
 * A store that may still be starting: the embedded one hands out its `db` at once, and its queries
 * wait until PGlite has started; `ready` settles then (rejecting if it could not start). A server
 * builds its routes meanwhile (most of a start is PGlite's), which openStore() would have it wait for.
 */
export interface StartingStore {
  store: Store;
  ready: Promise<void>;
}

export function startStore(options: StoreOptions): StartingStore {
  if (options.databaseUrl) {
    // The driver is loaded here, not with the program: the embedded store (the default) never needs it.
    let pool: pg.Pool | undefined;
    const connected = import('pg').then(({ default: driver }) => {
      const types = {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? parseInt8 : driver.types.getTypeParser(oid, format ?? 'text')) as typeof driver.types.getTypeParser,
      };
      pool = new driver.Pool({
        connectionString: options.databaseUrl,
        max: options.poolSize ?? DEFAULT_POOL_SIZE,
        // While the server is away, a request waits this long for a connection, then gets a 503.
        connectionTimeoutMillis: 5_000,
        // A connection whose server vanished without a word (a crashed host) is noticed, not waited on forever.
        keepAlive: true,
        // Queries are written without waiting for the one before: PreparedStatementPool sends a
        // transaction's begin with its first statement. Kysely itself awaits each query in turn.
        pipeline: true,
        types,
      });
      // An idle client that loses its server must not crash the process; the next query reports it.
      pool.on('error', () => undefined);
      // The connection short hot reads share, set up as the pool's are.
      const reader = new SharedReader(
        () => new driver.Client({ connectionString: options.databaseUrl, connectionTimeoutMillis: 5_000, keepAlive: true, pipeline: true, types } as pg.ClientConfig),
      );
      return { pool: new PreparedStatementPool(pool), reader };
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: () => connected.then((c) => c.pool) }) });
    const hotReads = new Kysely<Database>({ dialect: new PostgresDialect({ pool: () => connected.then((c) => c.reader) }) });
    const poolStats = (): PoolStats => (pool ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : { total: 0, idle: 0, waiting: 0 });
    const store: Store = {
      db,
      hotReads,
      kind: 'postgres',
      location: redactUrl(options.databaseUrl),
      reads: NO_READ_CACHE,
      notifications: new PostgresNotifications(options.databaseUrl),
      poolStats,
      close: async () => {
        await hotReads.destroy();
        await db.destroy();
      },
    };
    return { store, ready: connected.then(() => undefined) };
  }


  // Started already by `serve` (main.ts), or here: the directory is locked before anything else.
  const { dir, database: starting, releaseLock } = options.started ?? startEmbedded(options.dataDir, options.template ?? BUILT_STORE_TEMPLATE);
  const ready = starting.then(() => undefined);
  const reads = new ReadCache();
  const pool = new PGlitePool(starting, () => reads.written());
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const store: Store = {
    db,
    hotReads: db,
    kind: 'pglite',
    reads,
    notifications: pool,
    poolStats: () => pool.stats(),
    dumpDataDir: () => pool.exclusive(async () => (await starting).dumpDataDir()),
    location: dir ?? '(in memory)',
    async close() {
      try {
        await db.destroy();
      } finally {
        releaseLock();
      }
    },
  };
  return { store, ready };
}

/** The store once it has started (its lock released again if it could not). */
export async function openStore(options: StoreOptions): Promise<Store> {
  const { store, ready } = startStore(options);
  await ready;
  return store;
}

/** A store with every migration applied (closed again when migrating fails): what every command starts from. */
export async function openMigratedStore(options: StoreOptions): Promise<Store> {
  const store = await openStore(options);
  try {
    await migrateToLatest(store.db);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  // Nearly every start finds nothing to do: one read says so, where the migrator's checks, table
  // creation and lock take a third of a second on the embedded store. Anything else (a new
  // migration, a fresh database) goes through the migrator and its lock.
  if (await migrationsApplied(db)) return [];
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * True when every migration we ship is applied (false before the first one). A database a newer
 * release has migrated further still serves this one, as during a rolling upgrade.
 */
export async function migrationsApplied(db: Kysely<Database>): Promise<boolean> {
  let applied: Set<string>;
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    applied = new Set(rows.map((row) => row.name));
  } catch {
    return false;
  }
  return Object.keys(migrations).every((name) => applied.has(name));
}

/** A jsonb value as a parameter. Passed as text and cast, so both drivers send the same bytes. */
export function jsonb(value: unknown): RawBuilder<unknown> {
  return sql`(${JSON.stringify(value)}::text)::jsonb`;
}
