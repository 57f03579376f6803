import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // A Slack workspace belongs to one account; its secrets are encrypted with SIDELINE_ENCRYPTION_KEY.
  await db.schema
    .createTable('slack_workspaces')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('team_id', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text')
    .addColumn('bot_token_enc', 'text', (c) => c.notNull())
    .addColumn('signing_secret_enc', 'text', (c) => c.notNull())
    .addColumn('bot_user_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('teams_bots')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull().unique().references('accounts.id'))
    .addColumn('app_id', 'text', (c) => c.notNull().unique())
    .addColumn('app_password_enc', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('service_url', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // The outside thread a Slack or Teams conversation lives in: Slack's thread ts, Teams' conversation id.
  await db.schema.alterTable('side_conversations').addColumn('thread_ref', 'text').execute();
  await db.schema.alterTable('side_conversations').addColumn('thread_reply_to', 'text').execute();
  await sql`create index side_conversations_thread on side_conversations (channel, thread_ref) where thread_ref is not null`.execute(db);

  // A file already shared into the Slack thread: a retried delivery does not share it again.
  await db.schema.alterTable('attachments').addColumn('relayed_at', 'timestamptz').execute();

  // Webhook events already handled (Slack retries, Teams redeliveries).
  await db.schema
    .createTable('inbound_events_seen')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('inbound_events_seen_pk', ['source', 'event_id'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('inbound_events_seen').ifExists().execute();
  await db.schema.alterTable('attachments').dropColumn('relayed_at').execute();
  await sql`drop index if exists side_conversations_thread`.execute(db);
  await db.schema.alterTable('side_conversations').dropColumn('thread_reply_to').execute();
  await db.schema.alterTable('side_conversations').dropColumn('thread_ref').execute();
  await db.schema.dropTable('teams_bots').ifExists().execute();
  await db.schema.dropTable('slack_workspaces').ifExists().execute();
}
