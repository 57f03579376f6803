import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';

/**
 * Zendesk-shaped webhooks (issue 12 §4): the webhooks, their invocations and every attempt.
 *
 * Where the outbox rows come from. Events are committed by several roads (the API, inbound email,
 * Slack, Teams, child-ticket sync, the relay marking a delivery failed, an import). Migration 0007
 * already makes every one of them write an `event_feed` row by trigger, in the writer's own
 * transaction. A trigger on `event_feed` inserts, for each active webhook of the account subscribed
 * to that event type, one outbox row (channel `webhook`) and its invocation, in that same
 * transaction: no road can commit an event without its webhook rows, none can forget them, and a
 * rolled-back write leaves none. The feed's `delivery_changed` rows do not say how the delivery
 * changed, so `delivery_failed` has a trigger of its own on `deliveries`, beside the feed's.
 *
 * The invocation id is made here, once: every retry of the outbox row sends the same id, so
 * receivers can drop duplicates (delivery is at least once).
 */
// Migrations take Kysely<any>: they describe the schema as it was at their time, not today's types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('endpoint', 'text', (c) => c.notNull())
    .addColumn('http_method', 'text', (c) => c.notNull())
    .addColumn('request_format', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('active', 'inactive')`))
    .addColumn('subscriptions', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('custom_headers', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('auth_type', 'text', (c) => c.check(sql`auth_type in ('basic_auth', 'bearer_token', 'api_key')`))
    .addColumn('auth_add_position', 'text')
    // Not secret, shown in GET: the basic_auth user name, the api_key header name.
    .addColumn('auth_name', 'text')
    // Secret, sealed, never shown: the password, the token, the key.
    .addColumn('auth_secret_sealed', 'text')
    .addColumn('signing_secret_sealed', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // The circuit breaker: failed attempts in a row, and until when the endpoint is left alone.
    .addColumn('circuit_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('circuit_open_until', 'timestamptz')
    .execute();
  await db.schema.createIndex('webhooks_account').on('webhooks').columns(['account_id', 'id']).execute();

  await db.schema
    .createTable('webhook_invocations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('webhook_id', 'text', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
    .addColumn('outbox_id', 'bigint', (c) => c.notNull().unique().references('outbox.id').onDelete('cascade'))
    .addColumn('event_type', 'text', (c) => c.notNull())
    // The envelope's `id`: the feed row's id (what the live stream calls the same event), or a new one.
    .addColumn('envelope_id', 'uuid', (c) => c.notNull())
    .addColumn('side_conversation_id', 'uuid', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    // The body, fixed by the first attempt so that every retry sends the same bytes.
    .addColumn('payload', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('webhook_invocations_webhook').on('webhook_invocations').columns(['webhook_id', 'seq']).execute();

  await db.schema
    .createTable('webhook_invocation_attempts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigserial', (c) => c.notNull())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('invocation_id', 'text', (c) => c.notNull().references('webhook_invocations.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('success', 'failed')`))
    .addColumn('status_code', 'integer')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('request_headers', 'jsonb', (c) => c.notNull())
    .addColumn('response_headers', 'jsonb', (c) => c.notNull())
    .addColumn('response_body', 'text', (c) => c.notNull())
    .addColumn('completed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('webhook_attempts_invocation').on('webhook_invocation_attempts').columns(['invocation_id', 'seq']).execute();

  await sql`
    create function webhook_outbox_for(p_account bigint, p_type text, p_envelope uuid, p_sc uuid, p_event uuid) returns void language plpgsql as $$
    declare
      hook record;
      box bigint;
    begin
      for hook in
        select id from webhooks
        where account_id = p_account and status = 'active' and subscriptions ? p_type
        order by id
      loop
        insert into outbox (account_id, channel, side_conversation_id, event_id)
        values (p_account, 'webhook', p_sc, p_event) returning id into box;
        insert into webhook_invocations (id, account_id, webhook_id, outbox_id, event_type, envelope_id, side_conversation_id, event_id)
        values (gen_random_uuid()::text, p_account, hook.id, box, p_type, p_envelope, p_sc, p_event);
      end loop;
    end
    $$`.execute(db);

  await sql`
    create function webhook_outbox_from_feed() returns trigger language plpgsql as $$
    begin
      if new.type <> 'side_conversation.delivery_changed' then
        perform webhook_outbox_for(new.account_id, 'zen:event-type:' || new.type, new.id, new.side_conversation_id, new.event_id);
      end if;
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger webhook_outbox_on_feed after insert on event_feed
    for each row execute function webhook_outbox_from_feed()`.execute(db);

  await sql`
    create function webhook_outbox_from_delivery() returns trigger language plpgsql as $$
    declare
      ev record;
    begin
      select side_conversation_id, id into ev from side_conversation_events where id = new.event_id and account_id = new.account_id;
      if found then
        perform webhook_outbox_for(new.account_id, 'zen:event-type:side_conversation.delivery_failed', gen_random_uuid(), ev.side_conversation_id, ev.id);
      end if;
      return null;
    end
    $$`.execute(db);
  await sql`
    create trigger webhook_outbox_on_delivery_failed after update of status on deliveries
    for each row when (new.status = 'failed' and old.status is distinct from 'failed')
    execute function webhook_outbox_from_delivery()`.execute(db);

  // Seals webhook secrets when SIDELINE_ENCRYPTION_KEY is not set (see src/webhooks/secrets.ts).
  await db.insertInto('install_secrets').values({ name: 'webhook_secrets', secret: randomBytes(32).toString('hex') }).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('install_secrets').where('name', '=', 'webhook_secrets').execute();
  await sql`drop trigger if exists webhook_outbox_on_delivery_failed on deliveries`.execute(db);
  await sql`drop trigger if exists webhook_outbox_on_feed on event_feed`.execute(db);
  await sql`drop function if exists webhook_outbox_from_delivery()`.execute(db);
  await sql`drop function if exists webhook_outbox_from_feed()`.execute(db);
  await sql`drop function if exists webhook_outbox_for(bigint, text, uuid, uuid, uuid)`.execute(db);
  await db.schema.dropTable('webhook_invocation_attempts').ifExists().execute();
  await db.schema.dropTable('webhook_invocations').ifExists().execute();
  await db.schema.dropTable('webhooks').ifExists().execute();
}
