import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Ticket, TicketStatus } from '../db/types.js';
import { pageOf } from '../db/paging.js';
import type { TicketListFilter } from './schemas.js';

const UNSOLVED: TicketStatus[] = ['new', 'open', 'pending', 'hold'];

/**
 * The event `e` is unread for `userId` given their read marker `m` (left-joined: none means
 * nothing read yet): it came after the marker and is not their own.
 */
function unreadBy(userId: number) {
  return sql<boolean>`e.actor_user_id is distinct from ${userId} and (m.last_read_at is null or e.created_at > m.last_read_at)`;
}

export interface ConsoleTicketRow extends Ticket {
  requester_name: string | null;
  requester_email: string | null;
  assignee_name: string | null;
  assignee_email: string | null;
  side_conversation_count: number;
  unread_count: number;
}

/** A page of the account's tickets under a console filter, most recently updated first, with people and counts. */
export function listConsoleTickets(db: Executor, accountId: number, userId: number, filter: TicketListFilter, offset: number, limit: number) {
  let base = db.selectFrom('tickets as t').where('t.account_id', '=', accountId);
  switch (filter) {
    case 'open':
      base = base.where('t.status', 'in', ['new', 'open']);
      break;
    case 'pending':
      base = base.where('t.status', '=', 'pending');
      break;
    case 'solved':
      base = base.where('t.status', 'in', ['solved', 'closed']);
      break;
    case 'assigned_to_me':
      base = base.where('t.assignee_id', '=', userId).where('t.status', 'in', UNSOLVED);
      break;
    case 'my_groups':
      base = base
        .where('t.group_id', 'in', (eb) =>
          eb.selectFrom('group_memberships as gm').select('gm.group_id').where('gm.account_id', '=', accountId).where('gm.user_id', '=', userId),
        )
        .where('t.status', 'in', UNSOLVED);
      break;
    case 'all':
      break;
  }
  const rows = base
    .leftJoin('users as r', (join) => join.onRef('r.account_id', '=', 't.account_id').onRef('r.id', '=', 't.requester_id'))
    .leftJoin('users as a', (join) => join.onRef('a.account_id', '=', 't.account_id').onRef('a.id', '=', 't.assignee_id'))
    .selectAll('t')
    .select(['r.name as requester_name', 'r.email as requester_email', 'a.name as assignee_name', 'a.email as assignee_email'])
    .select((eb) => [
      eb
        .selectFrom('side_conversations as sc')
        .select((c) => c.fn.countAll<number>().as('n'))
        .whereRef('sc.account_id', '=', 't.account_id')
        .whereRef('sc.ticket_id', '=', 't.id')
        .as('side_conversation_count'),
      // Through the ticket's conversations, so the events index (side_conversation_id, seq) serves it.
      eb
        .selectFrom('side_conversations as sc')
        .innerJoin('side_conversation_events as e', 'e.side_conversation_id', 'sc.id')
        .leftJoin('read_markers as m', (join) =>
          join.onRef('m.account_id', '=', 'sc.account_id').onRef('m.side_conversation_id', '=', 'sc.id').on('m.user_id', '=', userId),
        )
        .select((c) => c.fn.countAll<number>().as('n'))
        .whereRef('sc.account_id', '=', 't.account_id')
        .whereRef('sc.ticket_id', '=', 't.id')
        .where(unreadBy(userId))
        .as('unread_count'),
    ])
    .orderBy('t.updated_at', 'desc')
    .orderBy('t.id', 'desc')
    .offset(offset)
    .limit(limit)
    .execute() as Promise<ConsoleTicketRow[]>;
  return pageOf(rows, base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow());
}

export interface ReadMarkerRow {
  side_conversation_id: string;
  last_read_at: Date | null;
  unread_count: number;
}

/** The caller's marker and unread count for every side conversation of a ticket, oldest conversation first. */
export function readMarkersOfTicket(db: Executor, accountId: number, userId: number, ticketId: number): Promise<ReadMarkerRow[]> {
  return db
    .selectFrom('side_conversations as sc')
    .leftJoin('read_markers as m', (join) =>
      join.onRef('m.account_id', '=', 'sc.account_id').onRef('m.side_conversation_id', '=', 'sc.id').on('m.user_id', '=', userId),
    )
    .select(['sc.id as side_conversation_id', 'm.last_read_at'])
    .select((eb) =>
      eb
        .selectFrom('side_conversation_events as e')
        .select((c) => c.fn.countAll<number>().as('n'))
        .whereRef('e.side_conversation_id', '=', 'sc.id')
        .where(unreadBy(userId))
        .as('unread_count'),
    )
    .where('sc.account_id', '=', accountId)
    .where('sc.ticket_id', '=', ticketId)
    .orderBy('sc.seq')
    .execute() as Promise<ReadMarkerRow[]>;
}

export function sideConversationExists(db: Executor, accountId: number, id: string): Promise<boolean> {
  return db
    .selectFrom('side_conversations')
    .select('id')
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst()
    .then((row) => row !== undefined);
}

/** Everything up to now is read: the marker moves to the store's clock (the one events are stamped with). */
export async function markRead(db: Executor, accountId: number, userId: number, sideConversationId: string): Promise<Date> {
  const row = await db
    .insertInto('read_markers')
    .values({ account_id: accountId, user_id: userId, side_conversation_id: sideConversationId, last_read_at: sql<Date>`now()` })
    .onConflict((oc) => oc.columns(['account_id', 'user_id', 'side_conversation_id']).doUpdateSet({ last_read_at: sql<Date>`now()` }))
    .returning('last_read_at')
    .executeTakeFirstOrThrow();
  return row.last_read_at;
}

/** How many earlier channels the destinations list (the most recently used first). */
const KNOWN_CHANNELS_LIMIT = 200;

function participantsOfAccount(db: Executor, accountId: number) {
  return db
    .selectFrom('side_conversation_participants as p')
    .innerJoin('side_conversations as sc', (join) => join.onRef('sc.account_id', '=', 'p.account_id').onRef('sc.id', '=', 'p.side_conversation_id'))
    .where('p.account_id', '=', accountId);
}

/**
 * The Slack channels the account's side conversations have used, per workspace, most recently used
 * first: Sideline keeps no directory of a workspace's channels, only what it has posted to.
 */
export function usedSlackChannels(db: Executor, accountId: number): Promise<Array<{ slack_workspace_id: string; slack_channel_id: string }>> {
  return participantsOfAccount(db, accountId)
    .select(['p.slack_workspace_id', 'p.slack_channel_id'])
    .where('p.slack_workspace_id', 'is not', null)
    .where('p.slack_channel_id', 'is not', null)
    .groupBy(['p.slack_workspace_id', 'p.slack_channel_id'])
    .orderBy((eb) => eb.fn.max('sc.created_at'), 'desc')
    .limit(KNOWN_CHANNELS_LIMIT)
    .execute() as Promise<Array<{ slack_workspace_id: string; slack_channel_id: string }>>;
}

/** The Teams channels the account's side conversations have used, most recently used first. */
export async function usedTeamsChannels(db: Executor, accountId: number): Promise<string[]> {
  const rows = await participantsOfAccount(db, accountId)
    .select('p.msteams_channel_id')
    .where('p.msteams_channel_id', 'is not', null)
    .groupBy('p.msteams_channel_id')
    .orderBy((eb) => eb.fn.max('sc.created_at'), 'desc')
    .limit(KNOWN_CHANNELS_LIMIT)
    .execute();
  return rows.map((r) => r.msteams_channel_id!);
}
