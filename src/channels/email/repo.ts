import { sql } from 'kysely';
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

/**
 * The record of an outbound message's Message-ID, `<localPart@domain>`, unsent: a part of the
 * writer's OneStatement. The domain is the account's support address's, read by the statement
 * itself (as domainOf() in threading.ts reads it: after the last @, lower-cased) rather than by a
 * round trip of its own.
 */
export function insertOutboundMessageIdQuery(db: Executor, accountId: number, sideConversationId: string, eventId: string, localPart: string) {
  const domain = sql<string>`(select lower(substring(support_address from '[^@]*$')) from accounts where id = ${accountId})`;
  return db.insertInto('email_messages').values({
    account_id: accountId,
    side_conversation_id: sideConversationId,
    event_id: eventId,
    message_id: sql<string>`'<' || ${localPart} || '@' || ${domain} || '>'`,
    direction: 'outbound',
  });
}

/** A recorded Message-ID of a conversation's email thread. */
export interface ThreadMessage {
  message_id: string;
  event_id: string | null;
  direction: 'inbound' | 'outbound';
}

/** The recorded Message-IDs of each of several conversations' threads, oldest first. */
export async function threadsOf(db: Executor, accountId: number, sideConversationIds: string[]): Promise<Map<string, ThreadMessage[]>> {
  const threads = new Map<string, ThreadMessage[]>(sideConversationIds.map((id) => [id, []]));
  if (sideConversationIds.length === 0) return threads;
  const rows = await db
    .selectFrom('email_messages')
    .select(['side_conversation_id', 'message_id', 'event_id', 'direction'])
    .where('account_id', '=', accountId)
    .where('side_conversation_id', 'in', sideConversationIds)
    .orderBy('id')
    .execute();
  for (const { side_conversation_id, ...message } of rows) threads.get(side_conversation_id)?.push(message as ThreadMessage);
  return threads;
}

/**
 * The thread as one outbound message sees it: the Message-IDs recorded before its event, oldest
 * first (for In-Reply-To and References), and the one recorded for the event itself (what it is
 * sent as, so ids recorded under an earlier formula keep threading).
 */
export function threadAt(thread: readonly ThreadMessage[], eventId: string): { earlier: string[]; own: string | null } {
  const earlier: string[] = [];
  for (const message of thread) {
    if (message.event_id === eventId) return { earlier, own: message.direction === 'outbound' ? message.message_id : null };
    earlier.push(message.message_id);
  }
  return { earlier, own: null };
}
