import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import { OneStatement } from '../db/one-statement.js';
import type { Attachment, Delivery, EventVia, ParticipantRecord, SideConversation, SideConversationEvent, SideConversationState } from '../db/types.js';
import { notFound, tooManyRequests, ValidationErrors } from '../errors.js';
import { sendTogether } from '../db/send-together.js';
import { ticketForUpdateQuery } from '../tickets/repo.js';
import type { SideConversationHooks } from './hooks.js';
import { channelOf, recipientUsersQuery, resolveParticipants, type ParticipantInput } from './participants.js';
import {
  findSideConversation,
  findSideConversationByIdForUpdate,
  insertParticipantsQuery,
  insertSideConversationQuery,
  lockSideConversationWithParticipants,
  participantsOf,
  participantsInOrder,
  SIDE_CONVERSATION_TIMESTAMPS,
  type PresentedParticipant,
} from './repo.js';
import { checkExternalIds, checkFrom, checkSubject, defaultRecipients, isOutbound, isSender, messageBodies } from './rules.js';
import { onlyRow, queueMessageEvent, recordReply, recordUpdate } from './thread.js';

/**
 * The one road every write takes, whoever makes it: an agent through the API, an inbound email,
 * a Slack or Teams message, a child ticket's comment. Each command runs in the caller's
 * transaction, locks what it changes, applies the rules (recipients, reopening, body and
 * attachment limits, the rate limit) and writes the row, its event and its outbox row together;
 * channel side effects run as the hooks the channels registered (see hooks.ts).
 */

/** What an event's message carries besides its text: files, and per-recipient delivery status. */
export interface EventDetails {
  attachments: Attachment[];
  deliveries: Delivery[];
}

export interface WriteResult {
  sideConversation: SideConversation;
  participants: PresentedParticipant[];
  event: SideConversationEvent | null;
  details: EventDetails;
  updates: Record<string, unknown>;
}

/** What a message command wrote: always an event. */
export type MessageWritten = WriteResult & { event: SideConversationEvent };

/** A message as its sender wrote it: the API's message object, which every road fills in. */
export interface MessageInput {
  subject?: string | null | undefined;
  body?: string | null | undefined;
  html_body?: string | null | undefined;
  to?: ParticipantInput[] | null | undefined;
  from?: ParticipantInput | null | undefined;
  external_ids?: unknown;
  attachment_ids?: string[] | null | undefined;
}

/** The conversation a command works on: found and locked here, or already locked by this transaction. */
export type ConversationRef = { id: string; ticketId?: number } | { held: SideConversation };

/** An inbound platform's id of a message (Slack's event_id, Teams' activity id): a redelivery is recorded once. */
export interface DedupeKey {
  source: string;
  key: string;
}

export interface StartInput {
  accountId: number;
  ticketId: number;
  via: EventVia;
  sender: ParticipantRecord;
  message: MessageInput;
  /** The conversation's own external_ids (the message has its own in `message.external_ids`). */
  externalIds?: unknown;
  /** Nothing follows this command in the caller's transaction but its commit, which may then leave with the command's last statement. */
  endsTransaction?: boolean;
}

export interface AddMessageInput {
  accountId: number;
  conversation: ConversationRef;
  via: EventVia;
  sender: ParticipantRecord;
  message: MessageInput;
  /** The sender becomes a participant if not one yet (mail to a conversation's reply address). */
  senderJoins?: boolean;
  /** The participants as the caller read them to decide whether the sender may write (inbound email): not read again. */
  participants?: PresentedParticipant[];
  dedupe?: DedupeKey;
  /** Nothing follows this command in the caller's transaction but its commit, which may then leave with the command's last statement. */
  endsTransaction?: boolean;
}

export interface ChangeInput {
  accountId: number;
  conversation: ConversationRef;
  via: EventVia;
  sender: ParticipantRecord;
  /** As sent: checked here ("open" or "closed"). */
  state?: string | undefined;
  subject?: string | null | undefined;
  /** The caller answers with the participants: read with the change, in its statement. */
  withParticipants?: boolean;
  /** Nothing follows this command in the caller's transaction but its commit, which may then leave with the command's last statement. */
  endsTransaction?: boolean;
}

export interface ChangeResult {
  sideConversation: SideConversation;
  /** Null when nothing changed (no event is written then). */
  event: SideConversationEvent | null;
  updates: { state?: SideConversationState; subject?: string };
  /** Read when asked for (`withParticipants`). */
  participants?: PresentedParticipant[];
}

export const RATE_LIMIT_WINDOW_SECONDS = 600;

export function createSideConversationCommands({
  rateLimitPer10Minutes = 0,
  hooks = {},
}: {
  /** Side conversation creates and replies through the API per account per 10 minutes; 0: no limit. */
  rateLimitPer10Minutes?: number;
  hooks?: SideConversationHooks;
}) {
  /**
   * Zendesk allows 300 side conversation creates and replies per 10 minutes per account; here the
   * number is the operator's (0: no limit). Counted from the events themselves, so every API
   * process on one database shares the same budget. Messages from outside are not counted or limited.
   */
  async function enforceRateLimit(trx: Executor, accountId: number, via: EventVia): Promise<void> {
    if (rateLimitPer10Minutes <= 0 || via !== 'api') return;
    const window = await trx
      .selectFrom('side_conversation_events')
      .select((eb) => [eb.fn.countAll<number>().as('count'), eb.fn.min('created_at').as('oldest')])
      .where('account_id', '=', accountId)
      .where('via', '=', 'api')
      .where('type', 'in', ['create', 'reply'])
      .where('created_at', '>', sql<Date>`now() - interval '600 seconds'`)
      .executeTakeFirstOrThrow();
    if (Number(window.count) < rateLimitPer10Minutes) return;
    const oldest = window.oldest ? new Date(window.oldest as unknown as string | Date).getTime() : Date.now();
    const retryAfter = (oldest + RATE_LIMIT_WINDOW_SECONDS * 1000 - Date.now()) / 1000;
    throw tooManyRequests(`At most ${rateLimitPer10Minutes} side conversation messages per 10 minutes; try again later`, retryAfter);
  }

  async function lock(trx: Executor, accountId: number, ref: ConversationRef): Promise<SideConversation> {
    if ('held' in ref) return ref.held;
    const sc =
      ref.ticketId === undefined
        ? await findSideConversationByIdForUpdate(trx, accountId, ref.id)
        : await findSideConversation(trx, accountId, ref.ticketId, ref.id, true);
    if (!sc) throw notFound();
    return sc;
  }

  /** The conversation locked, with its participants: as the caller read them, or read with the lock in one round trip. */
  async function lockWithParticipants(
    trx: Executor,
    accountId: number,
    ref: ConversationRef,
    known: PresentedParticipant[] | undefined,
  ): Promise<{ sc: SideConversation; participants: PresentedParticipant[] }> {
    if (known || 'held' in ref) {
      const sc = await lock(trx, accountId, ref);
      return { sc, participants: known ?? (await participantsOf(trx, accountId, [sc.id])).get(sc.id) ?? [] };
    }
    const found = await lockSideConversationWithParticipants(trx, accountId, ref.id, ref.ticketId);
    if (!found) throw notFound();
    return { sc: found.sideConversation, participants: found.participants };
  }

  /** True the first time this transaction sees the key; false for a redelivery. */
  async function firstDelivery(trx: Executor, dedupe: DedupeKey): Promise<boolean> {
    const fresh = await trx
      .insertInto('inbound_events_seen')
      .values({ source: dedupe.source, event_id: dedupe.key })
      .onConflict((oc) => oc.doNothing())
      .returning('event_id')
      .executeTakeFirst();
    return fresh !== undefined;
  }

  async function startSideConversation(trx: Executor, input: StartInput): Promise<MessageWritten> {
    const { accountId, sender, message } = input;
    await enforceRateLimit(trx, accountId, input.via);
    // The recipients' users are read in the lock's round trip: the ticket's lock does not guard them, so any snapshot serves.
    const lockTicket = ticketForUpdateQuery(trx, accountId, input.ticketId);
    const usersQuery = recipientUsersQuery(trx, accountId, message.to);
    const [[ticket], recipientUsers] = usersQuery ? await sendTogether(trx, lockTicket, usersQuery) : [await lockTicket.execute(), undefined];
    if (!ticket) throw notFound();
    const errors = new ValidationErrors();
    const subject = (typeof message.subject === 'string' && message.subject.trim()) || ticket.subject;
    checkSubject(subject, 'message.subject', errors);
    const { body, htmlBody, preview } = messageBodies(message, errors);
    const conversationExternalIds = checkExternalIds(input.externalIds, 'external_ids', errors);
    const messageExternalIds = checkExternalIds(message.external_ids, 'message.external_ids', errors);
    checkFrom(message.from, sender, errors);
    errors.throwIfAny();
    const resolved = await resolveParticipants(trx, accountId, message.to ?? undefined, 'message.to', recipientUsers);
    const channelHooks = hooks[resolved.channel];

    const id = randomUUID();
    const channelExternalIds = channelHooks?.beforeStart
      ? await channelHooks.beforeStart(trx, { accountId, sideConversationId: id, actor: sender, subject, body, htmlBody, target: resolved.recipients[0]! })
      : {};
    // The conversation, its participants, its event and its delivery: one statement.
    const statement = new OneStatement();
    const inserted = statement.add(
      insertSideConversationQuery(trx, {
        id,
        account_id: accountId,
        ticket_id: ticket.id,
        channel: resolved.channel,
        subject,
        state: 'open',
        preview_text: preview,
        external_ids: { ...conversationExternalIds, ...channelExternalIds },
        reply_token: channelHooks?.newReplyToken?.() ?? null,
      }),
      { timestamps: SIDE_CONVERSATION_TIMESTAMPS },
    );
    const others = resolved.recipients.filter((r) => !isSender(r, sender));
    const insertedParticipants = statement.add(insertParticipantsQuery(trx, accountId, id, [sender, ...others]));
    const queued = await queueMessageEvent(
      statement,
      trx,
      {
        accountId,
        sc: { id, ticket_id: ticket.id, channel: resolved.channel },
        type: 'create',
        via: input.via,
        actor: sender,
        message: {
          subject,
          body,
          htmlBody,
          preview,
          from: sender,
          to: resolved.recipients,
          externalIds: messageExternalIds,
          attachmentIds: message.attachment_ids ?? [],
        },
      },
      channelHooks,
    );
    await statement.run(trx, { endsTransaction: input.endsTransaction === true && !queued.writesAfter });
    const sc = onlyRow(inserted.rows(), 'side conversation');
    const participants = participantsInOrder(insertedParticipants.rows());
    const { event, attachments, deliveries } = await queued.finish(trx, sc);
    return { sideConversation: sc, participants, event, details: { attachments, deliveries }, updates: {} };
  }

  /**
   * A reply. Its recipients are everyone but the sender unless it names them (email only); a
   * closed conversation is reopened by it. With a dedupe key, a redelivered message writes
   * nothing and answers null.
   */
  async function addMessage(trx: Executor, input: AddMessageInput & { dedupe: DedupeKey }): Promise<MessageWritten | null>;
  async function addMessage(trx: Executor, input: AddMessageInput): Promise<MessageWritten>;
  async function addMessage(trx: Executor, input: AddMessageInput): Promise<MessageWritten | null> {
    const { accountId, sender, message } = input;
    await enforceRateLimit(trx, accountId, input.via);
    if (input.dedupe && !(await firstDelivery(trx, input.dedupe))) return null;
    const { sc, participants } = await lockWithParticipants(trx, accountId, input.conversation, input.participants);
    const errors = new ValidationErrors();
    const { body, htmlBody, preview } = messageBodies(message, errors);
    const externalIds = checkExternalIds(message.external_ids, 'message.external_ids', errors);
    checkFrom(message.from, sender, errors);
    errors.throwIfAny();

    let to = defaultRecipients(participants, sender, !isOutbound(input.via));
    let newParticipants: ParticipantRecord[] = input.senderJoins ? [sender] : [];
    if (message.to && message.to.length > 0) {
      if (channelOf(message.to, 'message.to') !== sc.channel) {
        errors.add('message.to', `To: a reply stays in the side conversation's own type (${sc.channel})`, 'MixedParticipantTypes');
        errors.throwIfAny();
      }
      if (sc.channel !== 'email') {
        errors.add('message.to', 'To: only email side conversations can change their recipients');
        errors.throwIfAny();
      }
      to = (await resolveParticipants(trx, accountId, message.to, 'message.to')).recipients;
      newParticipants = [...newParticipants, ...to];
    }

    const result = await recordReply(
      trx,
      {
        accountId,
        sc,
        via: input.via,
        actor: sender,
        message: { subject: null, body, htmlBody, preview, from: sender, to, externalIds, attachmentIds: message.attachment_ids ?? [] },
        newParticipants,
        participants,
        endsTransaction: input.endsTransaction === true,
      },
      hooks[sc.channel],
    );
    return {
      sideConversation: result.sideConversation,
      participants: result.participants ?? participants,
      event: result.event,
      details: { attachments: result.attachments, deliveries: result.deliveries },
      updates: result.updates,
    };
  }

  /** A change of state and/or subject; nothing changed, no event. */
  async function change(trx: Executor, input: ChangeInput): Promise<ChangeResult> {
    const sc = await lock(trx, input.accountId, input.conversation);
    const errors = new ValidationErrors();
    let state: SideConversationState | undefined;
    if (input.state !== undefined) {
      if (input.state !== 'open' && input.state !== 'closed') errors.add('state', 'State: must be "open" or "closed"');
      else state = input.state;
    }
    let subject: string | undefined;
    if (input.subject !== undefined && input.subject !== null) {
      subject = input.subject.trim();
      if (!subject) errors.add('subject', 'Subject: cannot be blank', 'BlankValue');
      checkSubject(subject, 'subject', errors);
    }
    errors.throwIfAny();

    const updates: { state?: SideConversationState; subject?: string } = {};
    if (state !== undefined && state !== sc.state) updates.state = state;
    if (subject !== undefined && subject !== sc.subject) updates.subject = subject;
    if (Object.keys(updates).length === 0) {
      const participants = input.withParticipants ? ((await participantsOf(trx, input.accountId, [sc.id])).get(sc.id) ?? []) : undefined;
      return { sideConversation: sc, event: null, updates, ...(participants ? { participants } : {}) };
    }
    const result = await recordUpdate(trx, {
      accountId: input.accountId,
      sc,
      via: input.via,
      actor: input.sender,
      updates,
      withParticipants: input.withParticipants ?? false,
      endsTransaction: input.endsTransaction === true,
    });
    return { ...result, updates };
  }

  return {
    startSideConversation,
    addMessage,
    change,
    changeState: (trx: Executor, input: Omit<ChangeInput, 'subject'> & { state: SideConversationState }) => change(trx, input),
    changeSubject: (trx: Executor, input: Omit<ChangeInput, 'state'> & { subject: string }) => change(trx, input),
  };
}

export type SideConversationCommands = ReturnType<typeof createSideConversationCommands>;
