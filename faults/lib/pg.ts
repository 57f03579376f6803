/** Fresh PostgreSQL databases for the harness, and the store fingerprint used around refused requests. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_SERVER_URL = process.env['FAULTS_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** int8 as numbers, as the server reads them. */
pg.types.setTypeParser(20, (v: string) => Number(v));

export interface TempDatabase {
  name: string;
  url: string;
  client(): Promise<pg.Client>;
  drop(): Promise<void>;
}

const created = new Set<string>();

export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_SERVER_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function createDatabase(label: string): Promise<TempDatabase> {
  const name = `sideline_faults_${label}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_SERVER_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  created.add(name);
  const url = new URL(PG_SERVER_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async client() {
      const c = new pg.Client({ connectionString: url.toString() });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    },
    drop: () => dropDatabase(name),
  };
}

export async function dropDatabase(name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_SERVER_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
    created.delete(name);
  } finally {
    await admin.end();
  }
}

/** Drops whatever this run created and has not dropped yet (used in the final `finally`). */
export async function dropAllCreated(): Promise<void> {
  for (const name of [...created]) await dropDatabase(name).catch(() => undefined);
}

/**
 * A fingerprint of the whole store: per table its row count and a digest of its rows' text
 * (attachment bytes are represented by their length). Tables are listed from the catalog, so a
 * table added by a later migration is covered without touching the harness.
 */
export class Fingerprinter {
  #sql: string | null = null;
  constructor(private readonly client: pg.Client) {}

  async tables(): Promise<string[]> {
    const { rows } = await this.client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name",
    );
    return rows.map((r) => r.table_name);
  }

  async #statement(): Promise<string> {
    if (this.#sql) return this.#sql;
    const tables = await this.tables();
    const parts = tables.map((t) => {
      const row = t === 'attachment_blobs' ? `x.storage_key || ':' || length(x.bytes)::text` : 'x::text';
      return `select '${t}' as t, count(*)::int as n, coalesce(md5(string_agg(md5(${row}), '' order by md5(${row}))), '') as h from "${t}" x`;
    });
    this.#sql = parts.join(' union all ');
    return this.#sql;
  }

  /** { table: "count:digest" } */
  async take(): Promise<Record<string, string>> {
    const { rows } = await this.client.query<{ t: string; n: number; h: string }>(await this.#statement());
    return Object.fromEntries(rows.map((r) => [r.t, `${r.n}:${r.h}`]));
  }

  async counts(): Promise<Record<string, number>> {
    const fp = await this.take();
    return Object.fromEntries(Object.entries(fp).map(([t, v]) => [t, Number(v.split(':')[0])]));
  }
}

/** The tables whose count or content differ between two fingerprints, e.g. ["outbox: 3→4"]. */
export function fingerprintDiff(before: Record<string, string>, after: Record<string, string>): string[] {
  const out: string[] = [];
  for (const t of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[t] ?? 'absent';
    const b = after[t] ?? 'absent';
    if (a === b) continue;
    const [na] = a.split(':');
    const [nb] = b.split(':');
    out.push(na === nb ? `${t}: content changed (${na} rows)` : `${t}: ${na}→${nb} rows`);
  }
  return out;
}
