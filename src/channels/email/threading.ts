import { randomBytes } from 'node:crypto';
import type { Executor } from '../../db/executor.js';

/** The per-conversation secret of its Reply-To address: 128 random bits, lower-case hex (mail systems may fold case). */
export function newReplyToken(): string {
  return randomBytes(16).toString('hex');
}

export function replyAddress(token: string, inboundDomain: string): string {
  return `reply+${token}@${inboundDomain}`;
}

/** The token of a `reply+TOKEN@domain` address, or null. */
export function tokenFromAddress(address: string, inboundDomain: string): string | null {
  const match = /^reply\+([0-9a-f]{32})@(.+)$/i.exec(address.trim());
  if (!match || match[2]!.toLowerCase() !== inboundDomain.toLowerCase()) return null;
  return match[1]!.toLowerCase();
}

export function domainOf(address: string): string {
  return address.split('@').pop()!.toLowerCase();
}

/**
 * An outbound message's Message-ID is fixed by its event, so a retried send (after a crash
 * between the SMTP server's acceptance and our record of it) carries the same id and receivers
 * can drop the duplicate.
 */
export function messageIdFor(eventId: string, domain: string): string {
  return `<${eventId}@${domain}>`;
}

/** Records the Message-ID an outbound email will carry, in the transaction that creates its event. */
export async function recordOutboundMessageId(trx: Executor, accountId: number, sideConversationId: string, eventId: string): Promise<void> {
  const account = await trx.selectFrom('accounts').select('support_address').where('id', '=', accountId).executeTakeFirstOrThrow();
  await trx
    .insertInto('email_messages')
    .values({
      account_id: accountId,
      side_conversation_id: sideConversationId,
      event_id: eventId,
      message_id: messageIdFor(eventId, domainOf(account.support_address)),
      direction: 'outbound',
    })
    .execute();
}

/** Message-IDs of a conversation so far, oldest first, for In-Reply-To and References. */
export async function threadMessageIds(db: Executor, accountId: number, sideConversationId: string, beforeEventId?: string): Promise<string[]> {
  const rows = await db
    .selectFrom('email_messages')
    .select(['message_id', 'event_id'])
    .where('account_id', '=', accountId)
    .where('side_conversation_id', '=', sideConversationId)
    .orderBy('id')
    .execute();
  const ids: string[] = [];
  for (const row of rows) {
    if (beforeEventId && row.event_id === beforeEventId) break;
    ids.push(row.message_id);
  }
  return ids;
}
