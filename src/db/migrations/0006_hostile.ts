import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // Secrets of this installation, made once here so every process that shares the store agrees.
  await db.schema
    .createTable('install_secrets')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Keys outbound Message-IDs, so they cannot be guessed from the event ids the API shows.
  await db.insertInto('install_secrets').values({ name: 'message_id', secret: randomBytes(32).toString('hex') }).execute();
  // The sweep of unbound uploads and the quota both read uploads by account and age.
  await db.schema.createIndex('attachments_unbound').on('attachments').columns(['created_at']).where(sql.ref('event_id'), 'is', null).execute();
  await db.schema.createIndex('attachments_account').on('attachments').columns(['account_id']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('attachments_account').ifExists().execute();
  await db.schema.dropIndex('attachments_unbound').ifExists().execute();
  await db.schema.dropTable('install_secrets').ifExists().execute();
}
