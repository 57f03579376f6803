/**
 * Growth data, written with SQL (INSERT … SELECT generate_series) rather than through the API:
 * tickets of 50 email side conversations each, every conversation with its two participants (the
 * agent and one outside recipient) and its create event, as the service would have written them.
 * Runs on an open store while no server holds it.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/types.js';
import { ADMIN_EMAIL } from './sideline.js';

export const PER_TICKET = 50;
const TICKETS_PER_CHUNK = 400; // 20,000 conversations per statement

export interface SeedContext {
  accountId: number;
  adminId: number;
}

export async function seedContext(db: Kysely<Database>): Promise<SeedContext> {
  const admin = await db.selectFrom('users').select(['id', 'account_id']).where('email', '=', ADMIN_EMAIL).executeTakeFirstOrThrow();
  return { accountId: admin.account_id, adminId: admin.id };
}

export async function countConversations(db: Kysely<Database>, accountId: number): Promise<number> {
  const row = await db
    .selectFrom('side_conversations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Adds `conversations` (a multiple of 50) side conversations on new tickets. Returns the new
 * tickets' id range. `progress` is called after every chunk.
 */
export async function seedConversations(
  db: Kysely<Database>,
  ctx: SeedContext,
  conversations: number,
  progress: (done: number) => void = () => undefined,
): Promise<{ firstTicket: number; lastTicket: number }> {
  const tickets = Math.ceil(conversations / PER_TICKET);
  const { accountId: acc, adminId: admin } = ctx;
  const first = await db.transaction().execute(async (trx) => {
    const row = await sql<{ first: number }>`
      update accounts set next_ticket_id = next_ticket_id + ${tickets}::bigint
      where id = ${acc}::bigint returning next_ticket_id - ${tickets}::bigint as first`.execute(trx);
    const firstId = Number(row.rows[0]!.first);
    await sql`
      insert into tickets (account_id, id, subject, description, status, requester_id, submitter_id, via_channel)
      select ${acc}::bigint, t, 'Seeded ticket ' || t, 'Seeded for the benchmark', 'open', ${admin}::bigint, ${admin}::bigint, 'api'
      from generate_series(${firstId}::bigint, ${firstId + tickets - 1}::bigint) t`.execute(trx);
    return firstId;
  });

  for (let t0 = first; t0 < first + tickets; t0 += TICKETS_PER_CHUNK) {
    const t1 = Math.min(first + tickets - 1, t0 + TICKETS_PER_CHUNK - 1);
    await db.transaction().execute(async (trx) => {
      await sql`
        insert into side_conversations
          (id, account_id, ticket_id, channel, subject, state, preview_text, external_ids, reply_token)
        select gen_random_uuid(), ${acc}::bigint, t, 'email', 'Seeded side conversation ' || t || '/' || n, 'open',
               'Could you have a look at this ticket?', '{}'::jsonb, replace(gen_random_uuid()::text, '-', '')
        from generate_series(${t0}::bigint, ${t1}::bigint) t, generate_series(1, ${PER_TICKET}::int) n
        order by t, n`.execute(trx);
      await sql`
        insert into side_conversation_participants (account_id, side_conversation_id, position, user_id, name, email)
        select ${acc}::bigint, sc.id, p.position,
               case when p.position = 0 then ${admin}::bigint end,
               case when p.position = 0 then 'Administrator' else 'Recipient ' || sc.seq end,
               case when p.position = 0 then ${ADMIN_EMAIL}::text else 'recipient' || sc.seq || '@example.com' end
        from side_conversations sc cross join (values (0), (1)) as p(position)
        where sc.account_id = ${acc}::bigint and sc.ticket_id between ${t0}::bigint and ${t1}::bigint
        order by sc.seq, p.position`.execute(trx);
      await sql`
        insert into side_conversation_events
          (id, account_id, side_conversation_id, ticket_id, type, via, actor_user_id, actor_name, actor_email, message)
        select gen_random_uuid(), ${acc}::bigint, sc.id, sc.ticket_id, 'create', 'api', ${admin}::bigint, 'Administrator', ${ADMIN_EMAIL}::text,
               jsonb_build_object(
                 'subject', sc.subject,
                 'body', sc.preview_text,
                 'html_body', '<div class="zd-comment"><p>' || sc.preview_text || '</p></div>',
                 'preview_text', sc.preview_text,
                 'from', jsonb_build_object('user_id', ${admin}::bigint, 'name', 'Administrator', 'email', ${ADMIN_EMAIL}::text),
                 'to', jsonb_build_array(jsonb_build_object('user_id', null, 'name', 'Recipient ' || sc.seq, 'email', 'recipient' || sc.seq || '@example.com')),
                 'external_ids', '{}'::jsonb,
                 'attachment_ids', '[]'::jsonb)
        from side_conversations sc
        where sc.account_id = ${acc}::bigint and sc.ticket_id between ${t0}::bigint and ${t1}::bigint
        order by sc.seq`.execute(trx);
    });
    progress((t1 - first + 1) * PER_TICKET);
  }
  await sql`analyze`.execute(db);
  return { firstTicket: first, lastTicket: first + tickets - 1 };
}

/** A conversation of a ticket (the one in the middle of its list). */
export async function conversationOf(db: Kysely<Database>, accountId: number, ticketId: number): Promise<string> {
  const rows = await db
    .selectFrom('side_conversations')
    .select('id')
    .where('account_id', '=', accountId)
    .where('ticket_id', '=', ticketId)
    .orderBy('seq')
    .execute();
  return rows[Math.floor(rows.length / 2)]!.id;
}
