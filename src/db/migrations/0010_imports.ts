import { sql, type Kysely } from 'kysely';

/**
 * Imports (issue 15): Zendesk's import endpoints and `sideline import-from`.
 *
 * - `side_conversations.import_key`: the sha-256 of the canonical `external_ids` a conversation was
 *   imported with. Unique per account, so an import of one already imported is refused (409) even
 *   when two imports race.
 * - `tickets.solved_at`: kept by the ticket import (Zendesk's `solved_at`).
 * - `import_checkpoints`: what `import-from` has brought over, source id → local id, written in
 *   the transaction of the import itself, so a run killed at any point and run again doubles nothing.
 * - An import delivers nothing: it sets `sideline.import` for its transaction, and the webhook
 *   trigger of 0009 leaves such events alone (the event feed still gets its rows, so imported
 *   history shows in the live stream and events endpoints like any other).
 */
// Migrations take Kysely<any>: they describe the schema as it was at their time, not today's types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('side_conversations').addColumn('import_key', 'text').execute();
  await sql`create unique index side_conversations_import_key on side_conversations (account_id, import_key) where import_key is not null`.execute(db);
  await db.schema.alterTable('tickets').addColumn('solved_at', 'timestamptz').execute();

  await db.schema
    .createTable('import_checkpoints')
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('source_id', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('import_checkpoints_pk', ['account_id', 'source', 'kind', 'source_id'])
    .execute();

  await sql`
    create or replace function webhook_outbox_from_feed() returns trigger language plpgsql as $$
    begin
      if new.type <> 'side_conversation.delivery_changed' and coalesce(current_setting('sideline.import', true), '') <> 'on' then
        perform webhook_outbox_for(new.account_id, 'zen:event-type:' || new.type, new.id, new.side_conversation_id, new.event_id);
      end if;
      return null;
    end
    $$`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    create or replace function webhook_outbox_from_feed() returns trigger language plpgsql as $$
    begin
      if new.type <> 'side_conversation.delivery_changed' then
        perform webhook_outbox_for(new.account_id, 'zen:event-type:' || new.type, new.id, new.side_conversation_id, new.event_id);
      end if;
      return null;
    end
    $$`.execute(db);
  await db.schema.dropTable('import_checkpoints').ifExists().execute();
  await db.schema.alterTable('tickets').dropColumn('solved_at').execute();
  await sql`drop index if exists side_conversations_import_key`.execute(db);
  await db.schema.alterTable('side_conversations').dropColumn('import_key').execute();
}
