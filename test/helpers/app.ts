import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { buildApp, type AppOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { appOptionsFor } from '../../src/runtime.js';
import { ensureAccountAndAdmin } from '../../src/accounts/accounts.js';
import { hashPassword } from '../../src/auth/credentials.js';
import { migrateToLatest, openStore, type Store } from '../../src/db/store.js';
import type { Database, UserRole } from '../../src/db/types.js';

export const ADMIN_EMAIL = 'admin@example.com';
export const ADMIN_PASSWORD = 'correct horse battery staple';

/** Which store this run uses: PGlite in memory, or PostgreSQL when DATABASE_URL is set. */
export const STORE_KIND = process.env['DATABASE_URL'] ? 'postgres' : 'pglite';

export function basic(email: string, secret: string): string {
  return `Basic ${Buffer.from(`${email}:${secret}`).toString('base64')}`;
}

/**
 * A fresh store for one test file: an in-memory PGlite, or a new database on the PostgreSQL server
 * of DATABASE_URL (dropped again by close()).
 */
export async function openTestStore(): Promise<{ store: Store; url?: string; drop(): Promise<void> }> {
  const serverUrl = process.env['DATABASE_URL'];
  if (!serverUrl) {
    const store = await openStore({});
    await migrateToLatest(store.db);
    return { store, drop: async () => store.close() };
  }
  const database = await createTempDatabase(serverUrl, `sideline_test_${process.pid}`);
  const store = await openStore({ databaseUrl: database.url, poolSize: 5 });
  await migrateToLatest(store.db);
  return {
    store,
    url: database.url,
    async drop() {
      await store.close();
      await database.drop();
    },
  };
}

/** A new, empty database `<prefix>_<random>` on the PostgreSQL server of `serverUrl`, and how to drop it again. */
export async function createTempDatabase(serverUrl: string, prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const again = new pg.Client({ connectionString: serverUrl });
      await again.connect();
      await again.query(`drop database if exists ${name} with (force)`);
      await again.end();
    },
  };
}

/**
 * The configuration of a test's app: what `loadConfig` makes of an environment that sets only what
 * every test needs (no logs, attachments in the database so nothing is written to disk, an
 * encryption key so integrations can be connected), then the test's own overrides.
 */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    ATTACHMENT_STORE: 'database',
    SIDELINE_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  });
  return { ...config, ...overrides };
}

/** What a test may put into the app that no configuration sets: clocks, short waits, a login throttle. */
export type TestInjections = Pick<AppOptions, 'auth' | 'idempotencyWaitMs' | 'stream' | 'sessions'>;

export interface TestUser {
  id: number;
  email: string;
  password: string;
  auth: string;
}

export interface TestApp {
  app: FastifyInstance;
  /** The configuration the app was built from (testConfig with the test's overrides). */
  config: Config;
  db: Kysely<Database>;
  /** The test database's URL on PostgreSQL (undefined on the embedded store). */
  databaseUrl: string | undefined;
  accountId: number;
  admin: TestUser;
  /** Inject with the admin's credentials unless `headers.authorization` is given (or null for none). */
  request(options: InjectOptions & { auth?: string | null }): Promise<LightMyRequestResponse>;
  createUser(role: UserRole, name?: string, accountId?: number): Promise<TestUser>;
  createAccount(subdomain: string): Promise<{ accountId: number; admin: TestUser }>;
  close(): Promise<void>;
}

let counter = 0;

/** The app as `sideline serve` builds it (appOptionsFor), from testConfig(overrides), on a fresh store with one account. */
export async function startTestApp(overrides: Partial<Config> = {}, injected: TestInjections = {}): Promise<TestApp> {
  const { store, url: databaseUrl, drop } = await openTestStore();
  const { accountId } = await ensureAccountAndAdmin(store.db, { adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD });
  const adminRow = await store.db.selectFrom('users').select('id').where('email', '=', ADMIN_EMAIL).executeTakeFirstOrThrow();
  const config = testConfig(overrides);
  const app = await buildApp({ ...appOptionsFor(config, store), ...injected });
  await app.ready();
  const admin: TestUser = { id: adminRow.id, email: ADMIN_EMAIL, password: ADMIN_PASSWORD, auth: basic(ADMIN_EMAIL, ADMIN_PASSWORD) };

  async function createUser(role: UserRole, name?: string, inAccount = accountId): Promise<TestUser> {
    counter += 1;
    const email = `${role.replace('-', '')}${counter}.${randomBytes(3).toString('hex')}@example.com`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const row = await store.db
      .insertInto('users')
      .values({ account_id: inAccount, name: name ?? `${role} ${counter}`, email, role, password_hash: await hashPassword(password) })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { id: row.id, email, password, auth: basic(email, password) };
  }

  return {
    app,
    config,
    db: store.db,
    databaseUrl,
    accountId,
    admin,
    request({ auth, ...inject }) {
      const headers = { ...(inject.headers ?? {}) } as Record<string, string>;
      if (auth !== null && headers['authorization'] === undefined) headers['authorization'] = auth ?? admin.auth;
      return app.inject({ ...inject, headers });
    },
    createUser,
    async createAccount(subdomain: string) {
      const account = await store.db
        .insertInto('accounts')
        .values({ subdomain, name: subdomain, support_address: `support@${subdomain}.example.com` })
        .returning('id')
        .executeTakeFirstOrThrow();
      const other = await createUser('admin', `${subdomain} admin`, account.id);
      // The app learns of accounts made behind its back (here, straight in the store) within a second
      // (AccountResolver): wait until it answers on the new host, so the test's next request does.
      for (let attempt = 0; attempt < 60; attempt += 1) {
        const me = await app.inject({ method: 'GET', url: '/api/v2/users/me', headers: { host: `${subdomain}.example.com`, authorization: other.auth } });
        if (me.statusCode !== 404) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return { accountId: account.id, admin: other };
    },
    async close() {
      await app.close();
      await drop();
    },
  };
}

/** Runs raw SQL counts, for checking that a refused request changed nothing. */
export async function countRows(db: Kysely<Database>, table: keyof Database): Promise<number> {
  const result = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(db);
  return Number(result.rows[0]!.n);
}

