import { createHmac, randomBytes } from 'node:crypto';
import type { Executor } from '../../db/executor.js';
import type { OneStatement } from '../../db/one-statement.js';
import { insertOutboundMessageIdQuery, messageIdKey } from './repo.js';

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
 * can drop the duplicate. It is a keyed hash of the event id, not the id itself: event ids are
 * shown by the API, and a Message-ID a sender can guess is enough to thread forged mail by
 * References alone.
 */
export function messageIdFor(key: Buffer, eventId: string, domain: string): string {
  return `<${messageIdLocalPart(key, eventId)}@${domain}>`;
}

/** What a Message-ID carries before its @: the keyed hash of its event id. */
function messageIdLocalPart(key: Buffer, eventId: string): string {
  return createHmac('sha256', key).update(eventId).digest('hex').slice(0, 32);
}

/** Reads a store's Message-ID key. */
export type MessageIdKeyReader = (db: Executor) => Promise<Buffer>;

/**
 * messageIdKey, read once per store and kept: the key never changes once migration 0006 made it,
 * and reading it was one of the round trips of every outbound message's write. One per app (a
 * process may serve several stores: the tests do).
 */
export function cachedMessageIdKey(): MessageIdKeyReader {
  let key: Promise<Buffer> | undefined;
  return (db) => {
    key ??= messageIdKey(db);
    // A read that failed (its transaction rolled back meanwhile) is tried again, by this caller and the next.
    return key.catch(() => {
      key = undefined;
      return messageIdKey(db);
    });
  };
}

/** The Message-ID of an outbound email: its event's keyed hash at the account's support address domain. */
export async function outboundMessageId(db: Executor, supportAddress: string, eventId: string, readKey: MessageIdKeyReader = messageIdKey): Promise<string> {
  return messageIdFor(await readKey(db), eventId, domainOf(supportAddress));
}

/**
 * Records the Message-ID an outbound email will carry, as a part of the statement that writes its
 * event. Delivery sends the recorded id (threadForEvent), so ids recorded before a change of
 * formula keep threading.
 */
export async function queueOutboundMessageId(
  statement: OneStatement,
  db: Executor,
  message: { accountId: number; sideConversationId: string; eventId: string },
  readKey: MessageIdKeyReader = messageIdKey,
): Promise<void> {
  const localPart = messageIdLocalPart(await readKey(db), message.eventId);
  statement.add(insertOutboundMessageIdQuery(db, message.accountId, message.sideConversationId, message.eventId, localPart), { returns: false });
}
