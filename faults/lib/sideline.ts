/** What every part shares: the admin, the environment of a server on either store, small API helpers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, type TempDatabase } from './pg.js';
import { basicAuth } from './http.js';

export const ADMIN_EMAIL = 'faults-admin@example.com';
export const ADMIN_PASSWORD = 'faults-admin-password';
export const ADMIN_AUTH = basicAuth(ADMIN_EMAIL, ADMIN_PASSWORD);

export type StoreKind = 'pglite' | 'postgres';
export const STORE_LABEL: Record<StoreKind, string> = { pglite: 'PGlite', postgres: 'PostgreSQL' };

export interface StoreHandle {
  kind: StoreKind;
  /** Environment that points a Sideline process at this store. */
  env: Record<string, string>;
  /** The data directory (PGlite; also holds .eml files and attachments). */
  dataDir: string;
  database: TempDatabase | null;
  cleanup(): Promise<void>;
}

const tempDirs = new Set<string>();

export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sideline-faults-${label}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

export async function openStoreHandle(kind: StoreKind, label: string): Promise<StoreHandle> {
  const dataDir = tempDir(label);
  const base = {
    SIDELINE_ADMIN_EMAIL: ADMIN_EMAIL,
    SIDELINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    DATA_DIR: dataDir,
    // No traffic leaves the machine: every outside service points at a closed loopback port unless a part sets its own.
    SLACK_API_URL: 'http://127.0.0.1:9/slack/',
    TEAMS_TOKEN_URL: 'http://127.0.0.1:9/token',
    TEAMS_OPENID_METADATA_URL: 'http://127.0.0.1:9/openid',
  };
  if (kind === 'pglite') {
    return {
      kind,
      env: { ...base, DATABASE_URL: '' },
      dataDir,
      database: null,
      async cleanup() {
        rmSync(dataDir, { recursive: true, force: true });
        tempDirs.delete(dataDir);
      },
    };
  }
  const database = await createDatabase(label);
  return {
    kind,
    env: { ...base, DATABASE_URL: database.url },
    dataDir,
    database,
    async cleanup() {
      await database.drop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
      tempDirs.delete(dataDir);
    },
  };
}

/** Runs `fn` over `items` with at most `limit` at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  });
  await Promise.all(workers);
  return results;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
