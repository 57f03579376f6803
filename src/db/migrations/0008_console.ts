import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // Agent console sign-ins. Only the SHA-256 of the cookie's token is kept (the token is random,
  // so no slow hash is needed); a leaked table cannot be replayed as cookies.
  await db.schema
    .createTable('console_sessions')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    // The user's credentials_version at sign-in: a password change or deactivation bumps it, and the session dies.
    .addColumn('credentials_version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('console_sessions_user').on('console_sessions').columns(['account_id', 'user_id']).execute();
  await db.schema.createIndex('console_sessions_expiry').on('console_sessions').columns(['expires_at']).execute();

  // How far each agent has read each side conversation, so unread counts agree on every device.
  await db.schema
    .createTable('read_markers')
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('side_conversation_id', 'uuid', (c) => c.notNull().references('side_conversations.id').onDelete('cascade'))
    .addColumn('last_read_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('read_markers_pk', ['account_id', 'user_id', 'side_conversation_id'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('read_markers').ifExists().execute();
  await db.schema.dropTable('console_sessions').ifExists().execute();
}
