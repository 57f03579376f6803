import { sql, type Kysely } from 'kysely';

/**
 * The event feed behind the live stream, and the table of Idempotency-Key answers.
 *
 * The event feed behind the live stream: one row per thing a subscriber is told about.
 *
 * Rows are written by triggers, in the transaction that writes the event or changes a delivery's
 * status, so that no road into the store (the API, inbound email, Slack, Teams, child tickets, the
 * relay, an import) can commit a change without its feed row, and a rolled-back write leaves none.
 *
 * `position` (the stream's cursor) is not given at insert: a sequence handed out inside concurrent
 * transactions is not commit order, and a reader resuming after position N would miss a row committed
 * later with a smaller number. Positions are assigned after commit, by `sequenceFeed` (src/events/repo.ts),
 * which holds a per-account advisory lock: only committed rows are numbered, every batch numbers after
 * the previous one, and a reader that has seen N can never be shown a row below N afterwards.
 *
 * The trigger also sends `NOTIFY sideline_feed, '<account id>'`: delivered at commit, to every
 * listening process (PostgreSQL) or to the embedded store's own listener (PGlite).
 */
// Migrations take Kysely<any>: they describe the schema as it was at their time, not today's types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('event_feed')
    .addColumn('write_order', 'bigserial', (c) => c.primaryKey())
    .addColumn('id', 'uuid', (c) => c.notNull().defaultTo(sql`gen_random_uuid()`))
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('position', 'bigint')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('side_conversation_id', 'uuid', (c) => c.notNull())
    .addColumn('ticket_id', 'bigint', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index event_feed_position on event_feed (account_id, position) where position is not null`.execute(db);
  await sql`create index event_feed_unsequenced on event_feed (account_id, write_order) where position is null`.execute(db);

  await sql`
    create function event_feed_from_event() returns trigger language plpgsql as $$
    begin
      if new.type = 'create' then
        insert into event_feed (account_id, type, side_conversation_id, ticket_id, event_id)
        values (new.account_id, 'side_conversation.created', new.side_conversation_id, new.ticket_id, new.id);
      elsif new.type = 'reply' then
        insert into event_feed (account_id, type, side_conversation_id, ticket_id, event_id)
        values (new.account_id, 'side_conversation.replied', new.side_conversation_id, new.ticket_id, new.id);
      else
        if new.updates ? 'state' then
          insert into event_feed (account_id, type, side_conversation_id, ticket_id, event_id)
          values (new.account_id, 'side_conversation.state_changed', new.side_conversation_id, new.ticket_id, new.id);
        end if;
        if new.updates ? 'subject' then
          insert into event_feed (account_id, type, side_conversation_id, ticket_id, event_id)
          values (new.account_id, 'side_conversation.subject_changed', new.side_conversation_id, new.ticket_id, new.id);
        end if;
      end if;
      perform pg_notify('sideline_feed', new.account_id::text);
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger event_feed_on_event after insert on side_conversation_events
    for each row execute function event_feed_from_event()`.execute(db);

  await sql`
    create function event_feed_from_delivery() returns trigger language plpgsql as $$
    begin
      insert into event_feed (account_id, type, side_conversation_id, ticket_id, event_id)
      select new.account_id, 'side_conversation.delivery_changed', e.side_conversation_id, e.ticket_id, e.id
      from side_conversation_events e
      where e.id = new.event_id and e.account_id = new.account_id;
      perform pg_notify('sideline_feed', new.account_id::text);
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger event_feed_on_delivery after update of status on deliveries
    for each row when (new.status is distinct from old.status and new.status in ('sent', 'failed'))
    execute function event_feed_from_delivery()`.execute(db);

  // Idempotency-Key (issue 12 §2): the first answer to a key, per account and user, for 24 hours.
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('user_id', 'bigint', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('response_body', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['account_id', 'user_id', 'key'])
    .execute();
  await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').ifExists().execute();
  await sql`drop trigger if exists event_feed_on_delivery on deliveries`.execute(db);
  await sql`drop trigger if exists event_feed_on_event on side_conversation_events`.execute(db);
  await sql`drop function if exists event_feed_from_delivery()`.execute(db);
  await sql`drop function if exists event_feed_from_event()`.execute(db);
  await db.schema.dropTable('event_feed').ifExists().execute();
}
