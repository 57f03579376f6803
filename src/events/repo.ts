import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { FeedEntry } from '../db/types.js';
import { attachmentsOfEvents } from '../attachments/repo.js';
import { deliveriesOfEvents } from '../outbox/deliveries.js';
import { participantsOf } from '../side-conversations/repo.js';

/** Key space of the advisory lock that serialises sequencing per account (the second key is the account). */
const SEQUENCE_LOCK = 0x5e9f;

/**
 * Numbers the account's committed, not yet numbered feed rows, after every number given so far, in
 * the order they were written (for one side conversation that is commit order: its writes hold its
 * row lock). Under the lock, each run's snapshot sees every earlier run committed, so positions only
 * ever grow in the order readers can see them. Returns the account's highest position.
 */
export async function sequenceFeed(db: Executor, accountId: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${SEQUENCE_LOCK}::int4, ${accountId}::int4)`.execute(trx);
    const result = await sql<{ position: number | null }>`
      with top as (
        select coalesce(max(position), 0) as position from event_feed where account_id = ${accountId} and position is not null
      ), numbered as (
        select f.write_order, top.position + row_number() over (order by f.write_order) as position
        from event_feed f, top
        where f.account_id = ${accountId} and f.position is null
      ), assigned as (
        update event_feed set position = numbered.position
        from numbered where event_feed.write_order = numbered.write_order
        returning event_feed.position
      )
      select greatest((select position from top), (select max(position) from assigned)) as position`.execute(trx);
    return Number(result.rows[0]?.position ?? 0);
  });
}

/** Numbered rows after `after`, oldest first; with `ticketId`, that ticket's only. */
export function feedAfter(db: Executor, accountId: number, after: number, limit: number, ticketId?: number): Promise<FeedEntry[]> {
  let query = db
    .selectFrom('event_feed')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('position', 'is not', null)
    .where('position', '>', after);
  if (ticketId !== undefined) query = query.where('ticket_id', '=', ticketId);
  return query.orderBy('position').limit(limit).execute();
}

/** What presenting a batch of feed rows needs, fetched in four queries whatever the batch size. */
export async function feedDetails(db: Executor, accountId: number, entries: FeedEntry[]) {
  const scIds = [...new Set(entries.map((e) => e.side_conversation_id))];
  const eventIds = [...new Set(entries.map((e) => e.event_id))];
  const [sideConversations, events, participants, attachments, deliveries] = await Promise.all([
    db.selectFrom('side_conversations').selectAll().where('account_id', '=', accountId).where('id', 'in', scIds).execute(),
    db.selectFrom('side_conversation_events').selectAll().where('account_id', '=', accountId).where('id', 'in', eventIds).execute(),
    participantsOf(db, accountId, scIds),
    attachmentsOfEvents(db, accountId, eventIds),
    deliveriesOfEvents(db, accountId, eventIds),
  ]);
  return {
    sideConversations: new Map(sideConversations.map((sc) => [sc.id, sc])),
    events: new Map(events.map((e) => [e.id, e])),
    participants,
    attachments,
    deliveries,
  };
}
