import { sql, type Kysely } from 'kysely';

// Migrations take Kysely<any>: they describe the schema as it was at their time, not today's types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('subdomain', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('support_address', 'text', (c) => c.notNull())
    .addColumn('next_ticket_id', 'bigint', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('end-user', 'agent', 'admin')`))
    .addColumn('password_hash', 'text')
    .addColumn('credentials_version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index users_account_email on users (account_id, lower(email)) where email is not null`.execute(db);

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id'))
    .addColumn('description', 'text')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('token_hint', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('groups')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('groups_account').on('groups').columns(['account_id', 'id']).execute();

  await db.schema
    .createTable('group_memberships')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id'))
    .addColumn('group_id', 'bigint', (c) => c.notNull().references('groups.id'))
    .addColumn('default', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('group_memberships_user_group', ['user_id', 'group_id'])
    .execute();

  await db.schema
    .createTable('tickets')
    .addColumn('account_id', 'bigint', (c) => c.notNull().references('accounts.id'))
    .addColumn('id', 'bigint', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('new', 'open', 'pending', 'hold', 'solved', 'closed')`),
    )
    .addColumn('priority', 'text')
    .addColumn('requester_id', 'bigint', (c) => c.notNull().references('users.id'))
    .addColumn('submitter_id', 'bigint', (c) => c.notNull().references('users.id'))
    .addColumn('assignee_id', 'bigint', (c) => c.references('users.id'))
    .addColumn('group_id', 'bigint', (c) => c.references('groups.id'))
    .addColumn('parent_side_conversation_id', 'uuid')
    .addColumn('via_channel', 'text', (c) => c.notNull().defaultTo('api'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('tickets_pk', ['account_id', 'id'])
    .execute();

  await db.schema
    .createTable('ticket_comments')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('ticket_id', 'bigint', (c) => c.notNull())
    .addColumn('author_id', 'bigint', (c) => c.notNull().references('users.id'))
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('html_body', 'text', (c) => c.notNull())
    .addColumn('public', 'boolean', (c) => c.notNull())
    .addColumn('via_channel', 'text', (c) => c.notNull().defaultTo('api'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addForeignKeyConstraint('ticket_comments_ticket', ['account_id', 'ticket_id'], 'tickets', ['account_id', 'id'])
    .execute();
  await db.schema.createIndex('ticket_comments_ticket_idx').on('ticket_comments').columns(['account_id', 'ticket_id', 'id']).execute();

  await db.schema
    .createTable('side_conversations')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('ticket_id', 'bigint', (c) => c.notNull())
    .addColumn('seq', 'bigserial', (c) => c.notNull())
    .addColumn('channel', 'text', (c) =>
      c.notNull().check(sql`channel in ('email', 'slack', 'child_ticket', 'msteams')`),
    )
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('open', 'closed')`))
    .addColumn('preview_text', 'text', (c) => c.notNull())
    .addColumn('external_ids', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('message_added_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('state_updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addForeignKeyConstraint('side_conversations_ticket', ['account_id', 'ticket_id'], 'tickets', ['account_id', 'id'])
    .execute();
  await db.schema
    .createIndex('side_conversations_ticket_seq')
    .on('side_conversations')
    .columns(['account_id', 'ticket_id', 'seq'])
    .execute();

  await db.schema
    .createTable('side_conversation_participants')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('side_conversation_id', 'uuid', (c) => c.notNull().references('side_conversations.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('user_id', 'bigint')
    .addColumn('name', 'text')
    .addColumn('email', 'text')
    .addColumn('slack_workspace_id', 'text')
    .addColumn('slack_channel_id', 'text')
    .addColumn('support_group_id', 'bigint')
    .addColumn('support_agent_id', 'bigint')
    .addColumn('msteams_channel_id', 'text')
    .execute();
  await db.schema
    .createIndex('side_conversation_participants_sc')
    .on('side_conversation_participants')
    .columns(['side_conversation_id', 'position'])
    .execute();

  await db.schema
    .createTable('side_conversation_events')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('side_conversation_id', 'uuid', (c) => c.notNull().references('side_conversations.id').onDelete('cascade'))
    .addColumn('ticket_id', 'bigint', (c) => c.notNull())
    .addColumn('seq', 'bigserial', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('create', 'reply', 'update')`))
    .addColumn('via', 'text', (c) => c.notNull())
    .addColumn('actor_user_id', 'bigint')
    .addColumn('actor_name', 'text')
    .addColumn('actor_email', 'text')
    .addColumn('message', 'jsonb')
    .addColumn('updates', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('side_conversation_events_sc_seq')
    .on('side_conversation_events')
    .columns(['side_conversation_id', 'seq'])
    .execute();
  await db.schema
    .createIndex('side_conversation_events_account_time')
    .on('side_conversation_events')
    .columns(['account_id', 'created_at', 'seq'])
    .execute();

  await db.schema
    .createTable('outbox')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'bigint', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('side_conversation_id', 'uuid', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('delivered_at', 'timestamptz')
    .execute();
  await sql`create index outbox_due on outbox (next_attempt_at) where status = 'pending'`.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'outbox',
    'side_conversation_events',
    'side_conversation_participants',
    'side_conversations',
    'ticket_comments',
    'tickets',
    'group_memberships',
    'groups',
    'api_tokens',
    'users',
    'accounts',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
