/** The email channel's SQL: the sender of an account, the install's Message-ID key, the thread's Message-IDs. */
import type { Executor } from '../../db/executor.js';

/** Who an account's mail is from: its name and support address. */
export function findSender(db: Executor, accountId: number): Promise<{ name: string; support_address: string } | undefined> {
  return db.selectFrom('accounts').select(['name', 'support_address']).where('id', '=', accountId).executeTakeFirst();
}

/** The key of messageIdFor: made by migration 0006, shared by every process on the store. */
export async function messageIdKey(db: Executor): Promise<Buffer> {
  const row = await db.selectFrom('install_secrets').select('secret').where('name', '=', 'message_id').executeTakeFirstOrThrow();
  return Buffer.from(row.secret, 'hex');
}

export async function insertOutboundMessageId(db: Executor, accountId: number, sideConversationId: string, eventId: string, messageId: string): Promise<void> {
  await db
    .insertInto('email_messages')
    .values({ account_id: accountId, side_conversation_id: sideConversationId, event_id: eventId, message_id: messageId, direction: 'outbound' })
    .execute();
}

/**
 * The thread as one outbound message sees it: the Message-IDs recorded before its event, oldest
 * first (for In-Reply-To and References), and the one recorded for the event itself (what it is
 * sent as, so ids recorded under an earlier formula keep threading), in one query.
 */
export async function threadForEvent(db: Executor, accountId: number, sideConversationId: string, eventId: string): Promise<{ earlier: string[]; own: string | null }> {
  const rows = await db
    .selectFrom('email_messages')
    .select(['message_id', 'event_id', 'direction'])
    .where('account_id', '=', accountId)
    .where('side_conversation_id', '=', sideConversationId)
    .orderBy('id')
    .execute();
  const earlier: string[] = [];
  for (const row of rows) {
    if (row.event_id === eventId) return { earlier, own: row.direction === 'outbound' ? row.message_id : null };
    earlier.push(row.message_id);
  }
  return { earlier, own: null };
}
