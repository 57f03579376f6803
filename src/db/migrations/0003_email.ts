import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  // The unguessable token of an email conversation's Reply-To address (reply+TOKEN@INBOUND_DOMAIN).
  await db.schema.alterTable('side_conversations').addColumn('reply_token', 'text').execute();
  await sql`create unique index side_conversations_reply_token on side_conversations (reply_token) where reply_token is not null`.execute(db);

  // Lease claims: a relay owns a row until claimed_until; a crashed relay's rows come back after it.
  await db.schema.alterTable('outbox').addColumn('claimed_until', 'timestamptz').execute();
  await db.schema.alterTable('outbox').addColumn('claimed_by', 'text').execute();

  // Every Message-ID we sent or received, for threading replies (In-Reply-To / References).
  await db.schema
    .createTable('email_messages')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('side_conversation_id', 'uuid', (c) => c.notNull().references('side_conversations.id').onDelete('cascade'))
    .addColumn('event_id', 'uuid')
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('direction', 'text', (c) => c.notNull().check(sql`direction in ('outbound', 'inbound')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('email_messages_account_message', ['account_id', 'message_id'])
    .execute();
  await db.schema.createIndex('email_messages_sc').on('email_messages').columns(['side_conversation_id', 'id']).execute();

  // Per-recipient delivery status of an outbound message, shown on the event.
  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('outbox_id', 'bigint', (c) => c.notNull().references('outbox.id').onDelete('cascade'))
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('queued', 'sent', 'failed')`))
    .addColumn('reason', 'text')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('deliveries_outbox_recipient', ['outbox_id', 'recipient'])
    .execute();
  await db.schema.createIndex('deliveries_event').on('deliveries').columns(['event_id']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('deliveries').ifExists().execute();
  await db.schema.dropTable('email_messages').ifExists().execute();
  await db.schema.alterTable('outbox').dropColumn('claimed_by').execute();
  await db.schema.alterTable('outbox').dropColumn('claimed_until').execute();
  await sql`drop index if exists side_conversations_reply_token`.execute(db);
  await db.schema.alterTable('side_conversations').dropColumn('reply_token').execute();
}
