import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
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

/**
 * Records the Message-ID an outbound email will carry, in the transaction that creates its event.
 * One statement: the domain is taken from the account's support address as the row is written
 * (the same value messageIdFor(eventId, domainOf(address)) gives).
 */
export async function recordOutboundMessageId(trx: Executor, accountId: number, sideConversationId: string, eventId: string): Promise<void> {
  const inserted = await trx
    .insertInto('email_messages')
    .columns(['account_id', 'side_conversation_id', 'event_id', 'message_id', 'direction'])
    .expression((eb) =>
      eb
        .selectFrom('accounts')
        .select([
          'accounts.id',
          sql<string>`${sideConversationId}::uuid`.as('side_conversation_id'),
          sql<string>`${eventId}::uuid`.as('event_id'),
          sql<string>`'<' || ${eventId}::text || '@' || lower(substring(accounts.support_address from '[^@]*$')) || '>'`.as('message_id'),
          sql<'outbound'>`'outbound'`.as('direction'),
        ])
        .where('accounts.id', '=', accountId),
    )
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) throw new Error(`account ${accountId} not found while recording a Message-ID`);
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
