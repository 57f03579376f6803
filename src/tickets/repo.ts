import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Ticket, TicketComment, TicketsTable } from '../db/types.js';
import type { Insertable, Updateable } from 'kysely';
import { pageOf } from '../db/paging.js';

export function findTicket(db: Executor, accountId: number, id: number): Promise<Ticket | undefined> {
  return db.selectFrom('tickets').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

/** Locks the ticket row for the rest of the transaction (writers on one ticket queue up). */
export function findTicketForUpdate(db: Executor, accountId: number, id: number): Promise<Ticket | undefined> {
  return ticketForUpdateQuery(db, accountId, id).executeTakeFirst();
}

/** The ticket locked for the transaction, as a query not yet sent (to send with others: sendTogether). */
export function ticketForUpdateQuery(db: Executor, accountId: number, id: number) {
  return db.selectFrom('tickets').selectAll().where('account_id', '=', accountId).where('id', '=', id).forUpdate();
}

/** Ticket ids are numbered per account from 1; the counter row serialises concurrent creates. */
export async function nextTicketId(db: Executor, accountId: number): Promise<number> {
  const row = await db
    .updateTable('accounts')
    .set({ next_ticket_id: sql`next_ticket_id + 1` })
    .where('id', '=', accountId)
    .returning(sql<number>`next_ticket_id - 1`.as('id'))
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export function insertTicket(db: Executor, ticket: Insertable<TicketsTable>): Promise<Ticket> {
  return db.insertInto('tickets').values(ticket).returningAll().executeTakeFirstOrThrow();
}

export function updateTicket(db: Executor, accountId: number, id: number, changes: Updateable<TicketsTable>): Promise<Ticket> {
  return db
    .updateTable('tickets')
    .set(changes)
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listTickets(db: Executor, accountId: number, offset: number, limit: number) {
  const base = db.selectFrom('tickets').where('account_id', '=', accountId);
  return pageOf(
    base.selectAll().orderBy('id').offset(offset).limit(limit).execute(),
    base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow(),
  );
}

export function insertComment(
  db: Executor,
  comment: { account_id: number; ticket_id: number; author_id: number; body: string; html_body: string; public: boolean; via_channel: string },
): Promise<TicketComment> {
  return db.insertInto('ticket_comments').values(comment).returningAll().executeTakeFirstOrThrow();
}

export async function listComments(db: Executor, accountId: number, ticketId: number, offset: number, limit: number) {
  const base = db.selectFrom('ticket_comments').where('account_id', '=', accountId).where('ticket_id', '=', ticketId);
  return pageOf(
    base.selectAll().orderBy('id').offset(offset).limit(limit).execute(),
    base.select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow(),
  );
}
