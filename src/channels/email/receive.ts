import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { AddressObject, ParsedMail } from 'mailparser';
import EmailReplyParser from 'email-reply-parser';
import { MAX_ATTACHMENTS_PER_MESSAGE, type AttachmentsService } from '../../attachments/service.js';
import type { Database, ParticipantRecord } from '../../db/types.js';
import { isEmailAddress } from '../../http/email.js';
import { htmlToText } from '../../text/html.js';
import { findUserByEmail } from '../../users/repo.js';
import { createSideConversationCommands, type SideConversationCommands } from '../../side-conversations/commands.js';
import { participantsOf } from '../../side-conversations/repo.js';
import { channelHooks } from '../hooks.js';
import { senderIsVouchedFor } from './sender-identity.js';
import { tokenFromAddress } from './threading.js';

/**
 * Why a message is not taken before it reaches the commands; each door (SMTP listener, HTTP route)
 * turns it into its own answer, as it does the commands' domain errors (a body over the limit).
 */
export type InboundRefusalReason = 'header-too-large' | 'malformed' | 'unknown-reply-address' | 'unthreaded' | 'no-sender' | 'not-participant' | 'empty';

/** A message we will not take. */
export class InboundRefusal extends Error {
  constructor(
    readonly reason: InboundRefusalReason,
    message: string,
  ) {
    super(message);
  }
}

export interface InboundDeps {
  db: Kysely<Database>;
  attachments: AttachmentsService;
  inboundDomain: string;
  /** INBOUND_TRUSTED_AUTHSERV_ID: whose Authentication-Results may make a sender one of our users. */
  trustedAuthservId?: string | undefined;
  /**
   * The writes (the composition root's). Unset: commands with the channels' hooks and no rate
   * limit, which is all a reply from outside needs (mail is never rate limited or sent back out).
   */
  commands?: SideConversationCommands | undefined;
}

export interface InboundResult {
  sideConversationId: string;
  ticketId: number;
  eventId: string | null;
  /** The same Message-ID arrived before: nothing new was recorded. */
  duplicate: boolean;
}

/** A raw RFC 822 message: in memory (the HTTP route, at most INBOUND_MAX_BYTES) or spooled to a file (the SMTP listener). */
export type RawMessage = Buffer | { path: string };

/** More header than any real message carries (References of a long thread are a few KiB). */
const MAX_HEADER_BYTES = 1024 * 1024;

function openRaw(raw: RawMessage): Readable {
  return Buffer.isBuffer(raw) ? Readable.from([raw]) : createReadStream(raw.path);
}

/** Where the header section ends (after its blank line), or -1. */
function endOfHeader(bytes: Buffer, from: number): number {
  for (let i = bytes.indexOf(10, from); i !== -1; i = bytes.indexOf(10, i + 1)) {
    if (bytes[i + 1] === 10) return i + 2;
    if (bytes[i + 1] === 13 && bytes[i + 2] === 10) return i + 3;
  }
  return -1;
}

/**
 * The header section alone, read without the body: whether a message threads and who sent it is
 * decided from it, so mail we refuse is never parsed (its attachments never decoded into memory).
 */
async function headerSection(raw: RawMessage): Promise<Buffer> {
  const tooLarge = () => new InboundRefusal('header-too-large', `The header section is over ${MAX_HEADER_BYTES} bytes`);
  if (Buffer.isBuffer(raw)) {
    const end = endOfHeader(raw, 0);
    const head = end === -1 ? raw : raw.subarray(0, end);
    if (head.length > MAX_HEADER_BYTES) throw tooLarge();
    return head;
  }
  let head = Buffer.alloc(0);
  for await (const chunk of openRaw(raw)) {
    const from = Math.max(0, head.length - 2);
    head = Buffer.concat([head, chunk as Buffer]);
    const end = endOfHeader(head, from);
    if (end > MAX_HEADER_BYTES || (end === -1 && head.length > MAX_HEADER_BYTES)) throw tooLarge();
    if (end !== -1) return head.subarray(0, end);
  }
  return head; // a message that is all header
}

async function parse(source: Buffer | Readable): Promise<ParsedMail> {
  try {
    // Loaded on first use: mailparser and its charset tables are a large part of the server's code.
    const { simpleParser } = await import('mailparser');
    return await simpleParser(source, { skipImageLinks: true, skipTextToHtml: true, maxHtmlLengthToParse: 2 * 1024 * 1024 });
  } catch (error) {
    throw new InboundRefusal('malformed', `Malformed message: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function addressesOf(field: AddressObject | AddressObject[] | undefined): string[] {
  if (!field) return [];
  return [field].flat().flatMap((group) => group.value.flatMap((a) => (a.address ? [a.address] : (a.group ?? []).flatMap((g) => (g.address ? [g.address] : [])))));
}

function referencedIds(mail: ParsedMail): string[] {
  const refs = mail.references ? [mail.references].flat() : [];
  // The newest 100 are plenty to find a thread (and keep the lookup's parameters bounded).
  const ids = [...new Set([mail.inReplyTo, ...refs.slice(-100)].filter((id): id is string => typeof id === 'string' && id.length > 0 && id.length < 1000))];
  return ids.map((id) => id.toWellFormed().replace(/\u0000/g, ''));
}

/** The visible reply: quoted history ("On … wrote:", "> …") and signature ("-- ") removed. */
export function visibleReplyText(text: string): string {
  const visible = new EmailReplyParser().read(text).getVisibleText().trim();
  return visible || text.trim();
}

/**
 * Finds the side conversation a message answers: by the reply token in any recipient address
 * (the token is the proof), else by In-Reply-To/References against the Message-IDs we recorded.
 */
async function findThread(db: Kysely<Database>, mail: ParsedMail, envelopeRecipients: string[], inboundDomain: string) {
  const recipients = [...envelopeRecipients, ...addressesOf(mail.to), ...addressesOf(mail.cc)];
  for (const address of recipients) {
    const token = tokenFromAddress(address, inboundDomain);
    if (!token) continue;
    const sc = await db.selectFrom('side_conversations').selectAll().where('reply_token', '=', token).executeTakeFirst();
    if (!sc) throw new InboundRefusal('unknown-reply-address', `Unknown reply address ${address}`);
    return { sc, byToken: true };
  }
  const ids = referencedIds(mail);
  if (ids.length > 0) {
    const matches = await db
      .selectFrom('email_messages')
      .innerJoin('side_conversations', 'side_conversations.id', 'email_messages.side_conversation_id')
      .selectAll('side_conversations')
      .where('email_messages.message_id', 'in', ids)
      .execute();
    const distinct = new Map(matches.map((m) => [m.id, m]));
    if (distinct.size === 1) return { sc: [...distinct.values()][0]!, byToken: false };
  }
  throw new InboundRefusal('unthreaded', 'This message does not answer any side conversation');
}

/**
 * Turns a raw RFC 822 message into a reply event (via "email"). Threading and sender rules:
 * - by reply token: any sender is accepted (whoever holds the address was sent it, or was
 *   forwarded it by someone who was) and becomes a participant;
 * - by In-Reply-To/References only: the sender must already be a participant.
 * A Message-ID seen before is acknowledged without a second event.
 */
export async function receiveEmail(deps: InboundDeps, raw: RawMessage, envelope: { rcptTo: string[] } = { rcptTo: [] }): Promise<InboundResult> {
  const mail = await parse(await headerSection(raw));
  const sender = mail.from?.value.find((a) => a.address)?.address?.trim();
  if (!sender || !isEmailAddress(sender)) throw new InboundRefusal('no-sender', 'The message has no valid From address');
  const senderAddress: string = sender.toLowerCase();
  const senderName = mail.from?.value.find((a) => a.address)?.name?.toWellFormed().replace(/[\r\n\u0000-\u001f]+/g, ' ').trim() || null;

  const { sc, byToken } = await findThread(deps.db, mail, envelope.rcptTo, deps.inboundDomain);
  const accountId = sc.account_id;
  const messageId = typeof mail.messageId === 'string' && mail.messageId.length < 1000 ? mail.messageId : `<inbound-${randomUUID()}@${deps.inboundDomain}>`;
  const seen = await deps.db
    .selectFrom('email_messages')
    .select(['side_conversation_id', 'event_id'])
    .where('account_id', '=', accountId)
    .where('message_id', '=', messageId)
    .executeTakeFirst();
  if (seen) return { sideConversationId: seen.side_conversation_id, ticketId: sc.ticket_id, eventId: seen.event_id, duplicate: true };

  const participants = (await participantsOf(deps.db, accountId, [sc.id])).get(sc.id) ?? [];
  const isParticipant = participants.some((p) => p.email?.toLowerCase() === sender.toLowerCase());
  if (!byToken && !isParticipant) {
    throw new InboundRefusal('not-participant', `${sender} is not a participant of this side conversation`);
  }

  // Only now is the body read: the message threads, and its sender may write to the conversation.
  const whole = await parse(openRaw(raw));
  const fullText = (whole.text ?? (typeof whole.html === 'string' ? htmlToText(whole.html) : '')).replace(/\u0000/g, '');
  const body = visibleReplyText(fullText).toWellFormed();
  // A message takes at most this many files; mail with more keeps its first ones rather than bouncing.
  const files = (whole.attachments ?? []).slice(0, MAX_ATTACHMENTS_PER_MESSAGE);
  if (!body && files.length === 0) throw new InboundRefusal('empty', 'The message has no text and no attachments');

  // Bytes are stored before the transaction (they may be large); the transaction binds them.
  const attachmentIds: string[] = [];
  for (const file of files) {
    const stored = await deps.attachments.upload({ accountId, uploaderId: null, fileName: file.filename, bytes: file.content });
    attachmentIds.push(stored.id);
  }

  const vouched = senderIsVouchedFor({ headerLines: mail.headerLines, fromAddress: senderAddress, trustedAuthservId: deps.trustedAuthservId });
  const known = vouched ? await findUserByEmail(deps.db, accountId, sender) : undefined;
  const actor: ParticipantRecord = known
    ? { user_id: known.id, name: known.name, email: known.email }
    : { user_id: null, name: senderName, email: sender.toLowerCase() };
  const text = body || '(attachments only)';

  const commands = deps.commands ?? createSideConversationCommands({ hooks: channelHooks() });
  try {
    return await deps.db.transaction().execute(async (trx) => {
      const result = await commands.addMessage(trx, {
        accountId,
        conversation: { id: sc.id },
        via: 'email',
        sender: actor,
        message: { body: text, attachment_ids: attachmentIds },
        // Whoever holds the reply address may write, and joins the conversation (see above).
        senderJoins: true,
        participants,
      });
      // The Message-ID threads later mail by References, and refuses this message a second time.
      await trx
        .insertInto('email_messages')
        .values({ account_id: accountId, side_conversation_id: sc.id, event_id: result.event.id, message_id: messageId, direction: 'inbound' })
        .execute();
      return { sideConversationId: sc.id, ticketId: sc.ticket_id, eventId: result.event.id, duplicate: false };
    });
  } catch (error) {
    // The same message delivered twice at once: the second one finds the first's Message-ID.
    if ((error as { code?: string; constraint?: string }).constraint === 'email_messages_account_message') {
      return { sideConversationId: sc.id, ticketId: sc.ticket_id, eventId: null, duplicate: true };
    }
    throw error;
  }
}
