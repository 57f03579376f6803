/** Throwaway stores: a temporary PGlite data directory, or a fresh PostgreSQL database (dropped after). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrateToLatest, openStore, type Store, type StoreKind } from '../../src/db/store.js';

export const PG_SERVER_URL = process.env['BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchStore {
  kind: StoreKind;
  label: string;
  /** PostgreSQL: the database's name. */
  database?: string;
  /** Environment for a server or worker process using this store. */
  env: Record<string, string>;
  /** Opens it in this process (migrated). With PGlite, close it before a server starts (one owner). */
  open(poolSize?: number): Promise<Store>;
  destroy(): Promise<void>;
}

/** null when PostgreSQL does not answer (the reason is returned for the report). */
export async function postgresReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_SERVER_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Pids of the PostgreSQL backends connected to a database (other than the one asking). */
export async function backendPids(database: string): Promise<number[]> {
  return withAdmin(async (c) => {
    const res = await c.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
    return res.rows.map((r) => Number(r.pid));
  });
}

const created: BenchStore[] = [];

/** Every store still alive (for cleanup on a signal). */
export function liveStores(): BenchStore[] {
  return [...created];
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_SERVER_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function createStore(kind: StoreKind, purpose: string): Promise<BenchStore> {
  const dataDir = await mkdtemp(join(tmpdir(), `sideline-bench-${purpose}-`));
  let store: BenchStore;
  if (kind === 'pglite') {
    store = {
      kind,
      label: 'PGlite',
      env: { DATA_DIR: dataDir, DATABASE_URL: '' },
      async open() {
        const s = await openStore({ dataDir });
        await migrateToLatest(s.db);
        return s;
      },
      async destroy() {
        created.splice(created.indexOf(store), 1);
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } else {
    const name = `sideline_bench_${purpose.replace(/\W/g, '_')}_${process.pid}_${randomBytes(3).toString('hex')}`;
    await withAdmin((c) => c.query(`create database ${name}`));
    const url = new URL(PG_SERVER_URL);
    url.pathname = `/${name}`;
    const databaseUrl = url.toString();
    store = {
      kind,
      label: 'PostgreSQL',
      database: name,
      env: { DATA_DIR: dataDir, DATABASE_URL: databaseUrl },
      async open(poolSize = 4) {
        const s = await openStore({ databaseUrl, poolSize });
        await migrateToLatest(s.db);
        return s;
      },
      async destroy() {
        created.splice(created.indexOf(store), 1);
        try {
          await withAdmin((c) => c.query(`drop database if exists ${name} with (force)`));
        } finally {
          await rm(dataDir, { recursive: true, force: true });
        }
      },
    };
  }
  created.push(store);
  return store;
}
