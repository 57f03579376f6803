import type { Insertable } from 'kysely';
import type { Executor } from '../db/executor.js';
import { groupBy } from '../db/paging.js';
import type { Attachment, AttachmentsTable } from '../db/types.js';

export function insertAttachment(db: Executor, row: Insertable<AttachmentsTable>): Promise<Attachment> {
  return db.insertInto('attachments').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findAttachment(db: Executor, accountId: number, id: string): Promise<Attachment | undefined> {
  return db.selectFrom('attachments').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

/** The still-unbound uploads among `ids`, locked so two messages cannot take the same one. */
export function lockUnboundAttachments(db: Executor, accountId: number, ids: string[]): Promise<Attachment[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('attachments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', 'in', ids)
    .where('event_id', 'is', null)
    .forUpdate()
    .execute();
}

export function bindAttachments(
  db: Executor,
  accountId: number,
  ids: string[],
  target: { ticketId: number; sideConversationId: string; eventId: string },
) {
  return db
    .updateTable('attachments')
    .set({ ticket_id: target.ticketId, side_conversation_id: target.sideConversationId, event_id: target.eventId })
    .where('account_id', '=', accountId)
    .where('id', 'in', ids)
    .where('event_id', 'is', null)
    .execute();
}

export async function attachmentsOfEvents(db: Executor, accountId: number, eventIds: string[]): Promise<Map<string, Attachment[]>> {
  if (eventIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('attachments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('event_id', 'in', eventIds)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return groupBy(rows, (row) => row.event_id!);
}

/** The files of one event not yet shared in its chat thread (a retried post skips those an earlier attempt shared). */
export function unrelayedAttachmentsOfEvent(db: Executor, accountId: number, eventId: string): Promise<Attachment[]> {
  return db
    .selectFrom('attachments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('event_id', '=', eventId)
    .where('relayed_at', 'is', null)
    .orderBy('created_at')
    .execute();
}

export async function markAttachmentRelayed(db: Executor, accountId: number, id: string): Promise<void> {
  await db.updateTable('attachments').set({ relayed_at: new Date() }).where('account_id', '=', accountId).where('id', '=', id).execute();
}
