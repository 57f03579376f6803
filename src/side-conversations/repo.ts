import { jsonArrayFrom } from 'kysely/helpers/postgres';
import { sql, type ExpressionBuilder } from 'kysely';
import { compileOnce } from '../db/compiled.js';
import type { Executor } from '../db/executor.js';
import { jsonb } from '../db/store.js';
import { groupBy, pageOf } from '../db/paging.js';
import { sendTogether } from '../db/send-together.js';
import type {
  Database,
  EventMessageRecord,
  EventType,
  EventVia,
  ParticipantRecord,
  SideConversation,
  SideConversationChannel,
  SideConversationEvent,
  SideConversationParticipant,
  SideConversationState,
} from '../db/types.js';

/** A conversation by account, ticket and id; locked for the transaction when `forUpdate`. */
export function findSideConversation(db: Executor, accountId: number, ticketId: number, id: string, forUpdate = false): Promise<SideConversation | undefined> {
  const query = sideConversationQuery(db, accountId, id, ticketId);
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

/** A conversation by id, and by ticket too when it is given. */
function sideConversationQuery(db: Executor, accountId: number, id: string, ticketId?: number) {
  const query = db.selectFrom('side_conversations').selectAll().where('account_id', '=', accountId);
  return (ticketId === undefined ? query : query.where('ticket_id', '=', ticketId)).where('id', '=', id);
}

/**
 * A conversation locked for the transaction, and its participants read once the lock is held, in
 * one round trip (sent together: the read runs after the lock, with its own snapshot, so it sees
 * the participants a reply that held the lock before added). By ticket too when it is given.
 */
export async function lockSideConversationWithParticipants(
  db: Executor,
  accountId: number,
  id: string,
  ticketId?: number,
): Promise<{ sideConversation: SideConversation; participants: SideConversationParticipant[] } | undefined> {
  const [[sideConversation], participants] = await sendTogether(
    db,
    sideConversationQuery(db, accountId, id, ticketId).forUpdate(),
    db
      .selectFrom('side_conversation_participants')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('side_conversation_id', '=', id)
      .orderBy('side_conversation_id')
      .orderBy('position'),
  );
  return sideConversation ? { sideConversation, participants } : undefined;
}

/** The participant columns a presenter shows (a participant's own id and timestamps are not part of the API). */
const PRESENTED_PARTICIPANT_COLUMNS = [
  'user_id',
  'name',
  'email',
  'slack_workspace_id',
  'slack_channel_id',
  'support_group_id',
  'support_agent_id',
  'msteams_channel_id',
] as const;

export type PresentedParticipant = Pick<SideConversationParticipant, (typeof PRESENTED_PARTICIPANT_COLUMNS)[number]>;

/** The participants of the conversation `sc` of the enclosing query, as a JSON array in position order. */
function participantsJson(eb: ExpressionBuilder<Database & { sc: Database['side_conversations'] }, 'sc'>) {
  return jsonArrayFrom(
    eb
      .selectFrom('side_conversation_participants as p')
      .select(PRESENTED_PARTICIPANT_COLUMNS.map((c) => `p.${c}` as const))
      .whereRef('p.account_id', '=', 'sc.account_id')
      .whereRef('p.side_conversation_id', '=', 'sc.id')
      .orderBy('p.position'),
  );
}

/** A conversation as the API shows it, and the version it was read at (see conversationVersion). */
export interface ShownSideConversation {
  sideConversation: SideConversation;
  participants: PresentedParticipant[];
  version: string;
}

/**
 * The version of the conversation `sc` as shown (RenderedRows): the `xmin` of its row, which every
 * committed write of the row changes, whichever process made it. Its participants are shown too,
 * and they are added only in a transaction that writes the conversation's row as well (a create
 * inserts it, a reply or an import updates it: see insertParticipantsQuery), so the row's version
 * covers them. Reading the participants' own `xmin` as well measured 1.4–1.7× slower for Show and
 * List on PostgreSQL (a subquery per conversation).
 */
const conversationVersion = sql<string>`sc.xmin::text`;

/**
 * The id (as stored: the one asked for may differ in case) and version of a conversation found by
 * account, ticket and id (a conversation found means its ticket exists).
 */
export async function sideConversationVersion(db: Executor, accountId: number, ticketId: number, id: string): Promise<{ id: string; version: string } | undefined> {
  const [row] = await showVersionQuery(db, accountId, ticketId, id);
  return row;
}

const showVersionQuery = compileOnce(
  (db, accountId: number, ticketId: number, id: string) =>
    db
      .selectFrom('side_conversations as sc')
      .select(['sc.id', conversationVersion.as('version')])
      .where('sc.account_id', '=', accountId)
      .where('sc.ticket_id', '=', ticketId)
      .where('sc.id', '=', id),
  3,
);

/**
 * Conversations of a ticket by id, with their participants (a JSON array built by the database)
 * and their versions, in no particular order; one round trip.
 */
export async function shownSideConversations(db: Executor, accountId: number, ticketId: number, ids: string[]): Promise<ShownSideConversation[]> {
  const rows = await shownByIdsQuery(db, accountId, ticketId, ids);
  return rows.map(({ participants, version, ...sideConversation }) => ({ sideConversation, participants, version }));
}

const shownByIdsQuery = compileOnce(
  (db, accountId: number, ticketId: number, ids: string[]) =>
    db
      .selectFrom('side_conversations as sc')
      .selectAll('sc')
      .select((eb) => participantsJson(eb).as('participants'))
      .select(conversationVersion.as('version'))
      .where('sc.account_id', '=', accountId)
      .where('sc.ticket_id', '=', ticketId)
      .where(sql<boolean>`sc.id = any(${ids}::uuid[])`),
  3,
);

/**
 * A page of a ticket's conversations as ids and versions, the total, and whether the ticket exists
 * at all (null when it does not), in one query: the ticket's row, joined to the page (one row with
 * no conversation when the page is empty), the total beside each.
 */
export async function listSideConversationVersions(
  db: Executor,
  accountId: number,
  ticketId: number,
  offset: number,
  limit: number,
): Promise<{ rows: Array<{ id: string; version: string }>; count: number } | null> {
  const rows = await pageVersionsQuery(db, accountId, ticketId, offset, limit);
  const [first] = rows;
  if (!first) return null;
  return { rows: rows.flatMap((r) => (r.id === null || r.version === null ? [] : [{ id: r.id, version: r.version }])), count: Number(first.count) };
}

const pageVersionsQuery = compileOnce(
  (db, accountId: number, ticketId: number, offset: number, limit: number) =>
    db
      .selectFrom('tickets as t')
      .leftJoinLateral(
        (eb) =>
          eb
            .selectFrom('side_conversations as sc')
            .select(['sc.id', 'sc.seq', conversationVersion.as('version')])
            .where('sc.account_id', '=', accountId)
            .where('sc.ticket_id', '=', ticketId)
            .orderBy('sc.seq')
            .offset(offset)
            .limit(limit)
            .as('page'),
        (join) => join.onTrue(),
      )
      .select((eb) => [
        'page.id',
        'page.version',
        eb
          .selectFrom('side_conversations as c')
          .select(eb.fn.countAll<number>().as('count'))
          .where('c.account_id', '=', accountId)
          .where('c.ticket_id', '=', ticketId)
          .as('count'),
      ])
      .where('t.account_id', '=', accountId)
      .where('t.id', '=', ticketId)
      .orderBy('page.seq'),
  4,
);

export function insertSideConversation(
  db: Executor,
  row: {
    id: string;
    account_id: number;
    ticket_id: number;
    channel: SideConversationChannel;
    subject: string;
    state: SideConversationState;
    preview_text: string;
    external_ids: Record<string, string>;
    reply_token: string | null;
    /** Imports only: the key that refuses a second import, and the times the source had. */
    import_key?: string | null;
    created_at?: Date;
    updated_at?: Date;
    message_added_at?: Date;
    state_updated_at?: Date;
  },
): Promise<SideConversation> {
  return insertSideConversationQuery(db, row).executeTakeFirstOrThrow();
}

/** The columns of a conversation that are timestamps (a OneStatement part gives them back as text). */
export const SIDE_CONVERSATION_TIMESTAMPS = ['created_at', 'updated_at', 'message_added_at', 'state_updated_at'] as const;

/** insertSideConversation's statement, unsent: a part of a OneStatement. */
export function insertSideConversationQuery(db: Executor, row: Parameters<typeof insertSideConversation>[1]) {
  return db
    .insertInto('side_conversations')
    .values({ ...row, external_ids: jsonb(row.external_ids) })
    .returningAll();
}

export async function insertParticipants(
  db: Executor,
  accountId: number,
  sideConversationId: string,
  participants: ParticipantRecord[],
  firstPosition = 0,
): Promise<PresentedParticipant[]> {
  if (participants.length === 0) return [];
  return participantsInOrder(await insertParticipantsQuery(db, accountId, sideConversationId, participants, firstPosition).execute());
}

/**
 * insertParticipants' statement (at least one participant), unsent: a part of a OneStatement.
 * Only in a transaction that also writes the conversation's row (its version, see
 * conversationVersion, is what tells a kept rendering of the conversation is stale).
 */
export function insertParticipantsQuery(db: Executor, accountId: number, sideConversationId: string, participants: ParticipantRecord[], firstPosition = 0) {
  return db
    .insertInto('side_conversation_participants')
    .values(
      participants.map((p, position) => ({
        account_id: accountId,
        side_conversation_id: sideConversationId,
        position: firstPosition + position,
        user_id: p.user_id,
        name: p.name,
        email: p.email,
        slack_workspace_id: p.slack_workspace_id ?? null,
        slack_channel_id: p.slack_channel_id ?? null,
        support_group_id: p.support_group_id ?? null,
        support_agent_id: p.support_agent_id ?? null,
        msteams_channel_id: p.msteams_channel_id ?? null,
      })),
    )
    .returning(['position', ...PRESENTED_PARTICIPANT_COLUMNS]);
}

/** A conversation's participants as presented, with their positions: a read part of a OneStatement. */
export function participantsQuery(db: Executor, accountId: number, sideConversationId: string) {
  return db
    .selectFrom('side_conversation_participants')
    .select(['position', ...PRESENTED_PARTICIPANT_COLUMNS])
    .where('account_id', '=', accountId)
    .where('side_conversation_id', '=', sideConversationId);
}

/** Participants read or inserted with their positions, as presented, in position order (RETURNING and JSON keep no order). */
export function participantsInOrder(rows: Array<PresentedParticipant & { position: number }>): PresentedParticipant[] {
  return [...rows].sort((a, b) => a.position - b.position).map(({ position: _position, ...presented }) => presented);
}

/** Participants of several side conversations in one query, grouped by conversation. */
export async function participantsOf(db: Executor, accountId: number, ids: string[]): Promise<Map<string, SideConversationParticipant[]>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('side_conversation_participants')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('side_conversation_id', 'in', ids)
    .orderBy('side_conversation_id')
    .orderBy('position')
    .execute();
  return groupBy(rows, (row) => row.side_conversation_id, ids);
}

export function insertEvent(
  db: Executor,
  event: {
    id: string;
    account_id: number;
    side_conversation_id: string;
    ticket_id: number;
    type: EventType;
    via: EventVia;
    actor: { user_id: number | null; name: string | null; email: string | null };
    message: EventMessageRecord | null;
    updates: Record<string, unknown> | null;
    /** An imported event keeps its original time; unset, the database's now(). */
    created_at?: Date;
  },
): Promise<SideConversationEvent> {
  return insertEventQuery(db, event).executeTakeFirstOrThrow();
}

/** The columns of an event that are timestamps (a OneStatement part gives them back as text). */
export const EVENT_TIMESTAMPS = ['created_at'] as const;

/** insertEvent's statement, unsent: a part of a OneStatement. */
export function insertEventQuery(db: Executor, event: Parameters<typeof insertEvent>[1]) {
  return db
    .insertInto('side_conversation_events')
    .values({
      id: event.id,
      account_id: event.account_id,
      side_conversation_id: event.side_conversation_id,
      ticket_id: event.ticket_id,
      type: event.type,
      via: event.via,
      actor_user_id: event.actor.user_id,
      actor_name: event.actor.name,
      actor_email: event.actor.email,
      message: event.message === null ? null : jsonb(event.message),
      updates: event.updates === null ? null : jsonb(event.updates),
      ...(event.created_at ? { created_at: event.created_at } : {}),
    })
    .returningAll();
}

/** Events of several side conversations, oldest first. */
export function eventsOf(db: Executor, accountId: number, ids: string[]): Promise<SideConversationEvent[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('side_conversation_events')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('side_conversation_id', 'in', ids)
    .orderBy('seq')
    .execute();
}

/** A conversation by id alone (a child ticket knows its parent conversation's id, not its ticket). */
export function findSideConversationByIdForUpdate(db: Executor, accountId: number, id: string): Promise<SideConversation | undefined> {
  return sideConversationQuery(db, accountId, id).forUpdate().executeTakeFirst();
}

/**
 * What a channel delivers for an outbox row: the event and its conversation, or undefined when
 * either is gone. Two queries, sent side by side.
 */
export async function findEventToDeliver(
  db: Executor,
  accountId: number,
  eventId: string,
  sideConversationId: string,
): Promise<EventToDeliver | undefined> {
  return (await findEventsToDeliver(db, accountId, [{ event_id: eventId, side_conversation_id: sideConversationId }])).get(eventId);
}

export interface EventToDeliver {
  event: SideConversationEvent;
  sideConversation: SideConversation;
}

/** The events of several outbox rows with their conversations, by event id (a row whose event or conversation is gone has none). */
export async function findEventsToDeliver(
  db: Executor,
  accountId: number,
  rows: ReadonlyArray<{ event_id: string; side_conversation_id: string }>,
): Promise<Map<string, EventToDeliver>> {
  if (rows.length === 0) return new Map();
  const [events, sideConversations] = await Promise.all([
    db.selectFrom('side_conversation_events').selectAll().where('account_id', '=', accountId).where('id', 'in', [...new Set(rows.map((r) => r.event_id))]).execute(),
    db.selectFrom('side_conversations').selectAll().where('account_id', '=', accountId).where('id', 'in', [...new Set(rows.map((r) => r.side_conversation_id))]).execute(),
  ]);
  const conversationsById = new Map(sideConversations.map((sc) => [sc.id, sc]));
  const found = new Map<string, EventToDeliver>();
  for (const event of events) {
    const sideConversation = conversationsById.get(event.side_conversation_id);
    if (sideConversation) found.set(event.id, { event, sideConversation });
  }
  return found;
}

/** The conversation's first participant in a Slack or Teams channel (where a chat conversation is posted). */
export function findChannelParticipant(
  db: Executor,
  accountId: number,
  sideConversationId: string,
  channel: 'slack_channel_id' | 'msteams_channel_id',
): Promise<SideConversationParticipant | undefined> {
  return db
    .selectFrom('side_conversation_participants')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('side_conversation_id', '=', sideConversationId)
    .where(channel, 'is not', null)
    .executeTakeFirst();
}

/**
 * Records where the conversation's thread lives in Slack or Teams, once: a retried start that
 * finds a thread already recorded leaves it alone.
 */
export async function recordThreadStart(
  db: Executor,
  accountId: number,
  sideConversationId: string,
  thread: { thread_ref: string; thread_reply_to?: string },
): Promise<void> {
  await db
    .updateTable('side_conversations')
    .set(thread)
    .where('account_id', '=', accountId)
    .where('id', '=', sideConversationId)
    .where('thread_ref', 'is', null)
    .execute();
}

/**
 * A page of a conversation's events, oldest first, and their total — or null when the conversation
 * is not on that ticket of that account. Two queries, sent side by side.
 */
export async function listEvents(
  db: Executor,
  accountId: number,
  ticketId: number,
  sideConversationId: string,
  offset: number,
  limit: number,
): Promise<{ rows: SideConversationEvent[]; count: number } | null> {
  const [rows, totals] = await Promise.all([
    db
      .selectFrom('side_conversation_events')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('side_conversation_id', '=', sideConversationId)
      .orderBy('seq')
      .offset(offset)
      .limit(limit)
      .execute(),
    db
      .selectFrom('side_conversations as sc')
      .select((eb) =>
        eb
          .selectFrom('side_conversation_events as e')
          .select(eb.fn.countAll<number>().as('count'))
          .whereRef('e.account_id', '=', 'sc.account_id')
          .whereRef('e.side_conversation_id', '=', 'sc.id')
          .as('count'),
      )
      .where('sc.account_id', '=', accountId)
      .where('sc.ticket_id', '=', ticketId)
      .where('sc.id', '=', sideConversationId)
      .executeTakeFirst(),
  ]);
  return totals ? { rows, count: Number(totals.count) } : null;
}

/** Every event of the account from a time on, oldest first (the incremental export). */
export function eventsSince(db: Executor, accountId: number, since: Date, limit: number) {
  return db
    .selectFrom('side_conversation_events')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('created_at', '>=', since)
    .orderBy('created_at')
    .orderBy('seq')
    .limit(limit)
    .execute();
}
