import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { bindAttachmentsToMessage } from '../attachments/service.js';
import type { Executor } from '../db/executor.js';
import type {
  Attachment,
  Delivery,
  EventVia,
  ParticipantRecord,
  SideConversation,
  SideConversationEvent,
  SideConversationState,
} from '../db/types.js';
import { OneStatement } from '../db/one-statement.js';
import { queueOutbox } from '../outbox/emit.js';
import type { ChannelHooks } from './hooks.js';
import { isOutbound } from './rules.js';
import {
  EVENT_TIMESTAMPS,
  insertEventQuery,
  insertParticipants,
  insertParticipantsQuery,
  participantsOf,
  participantsQuery,
  participantsInOrder,
  SIDE_CONVERSATION_TIMESTAMPS,
  type PresentedParticipant,
} from './repo.js';

/**
 * The writes of a message or a change, for the commands (commands.ts), which decide what is
 * written. All run in the caller's transaction, so a conversation, its event, its attachments and
 * its outbox row commit together; the rows of one write go as one statement (db/one-statement.ts),
 * so a reply costs the database one round trip where it cost one per row.
 */

export interface MessageContent {
  subject: string | null;
  body: string;
  htmlBody: string;
  preview: string;
  from: ParticipantRecord;
  to: ParticipantRecord[];
  externalIds: Record<string, string>;
  attachmentIds: string[];
}

export interface RecordedEvent {
  event: SideConversationEvent;
  attachments: Attachment[];
  /** Queued per-recipient deliveries (none for messages that came from outside). */
  deliveries: Delivery[];
}

/** A message's event queued as parts of a OneStatement; `finish` reads them once it has run. */
export interface QueuedMessageEvent {
  /** Whether `finish` writes (attachments to bind, a channel's after-write hook): if not, the statement may end its transaction. */
  readonly writesAfter: boolean;
  /** Binds the message's attachments and runs the channel's after-write hook, for the conversation as written. */
  finish(trx: Executor, written: SideConversation): Promise<RecordedEvent>;
}

/**
 * Queues a create or reply event and its delivery (the outbox row, one delivery per recipient, and
 * the channel's own record of it) as parts of `statement`, which the caller runs with its other writes.
 */
export async function queueMessageEvent(
  statement: OneStatement,
  trx: Executor,
  input: {
    accountId: number;
    sc: Pick<SideConversation, 'id' | 'ticket_id' | 'channel'>;
    type: 'create' | 'reply';
    via: EventVia;
    actor: ParticipantRecord;
    message: MessageContent;
  },
  channel?: ChannelHooks,
): Promise<QueuedMessageEvent> {
  const { accountId, sc, message } = input;
  const eventId = randomUUID();
  const event = statement.add(
    insertEventQuery(trx, {
      id: eventId,
      account_id: accountId,
      side_conversation_id: sc.id,
      ticket_id: sc.ticket_id,
      type: input.type,
      via: input.via,
      actor: input.actor,
      message: {
        subject: message.subject,
        body: message.body,
        html_body: message.htmlBody,
        preview_text: message.preview,
        from: message.from,
        to: message.to,
        external_ids: message.externalIds,
        attachment_ids: message.attachmentIds,
      },
      updates: null,
    }),
    { timestamps: EVENT_TIMESTAMPS },
  );
  const outbound = isOutbound(input.via);
  let deliveries: () => Delivery[] = () => [];
  if (outbound) {
    deliveries = queueOutbox(statement, trx, { accountId, channel: sc.channel, sideConversationId: sc.id, eventId, recipients: message.to });
    await channel?.queueOutboundMessage?.(statement, trx, { accountId, sideConversationId: sc.id, eventId });
  }
  return {
    writesAfter: message.attachmentIds.length > 0 || (outbound && channel?.onOutboundMessage !== undefined),
    async finish(trx, written) {
      const row = onlyRow(event.rows(), 'event');
      const attachments = await bindAttachmentsToMessage(trx, accountId, message.attachmentIds, {
        ticketId: written.ticket_id,
        sideConversationId: written.id,
        eventId,
      });
      if (outbound) {
        await channel?.onOutboundMessage?.(trx, { accountId, sideConversation: written, event: row, actor: input.actor, body: message.body, htmlBody: message.htmlBody });
      }
      return { event: row, attachments, deliveries: deliveries() };
    },
  };
}

/** The one row a part wrote (an insert of one row, an update of a locked row). */
export function onlyRow<Row>(rows: Row[], what: string): Row {
  if (rows.length !== 1) throw new Error(`expected one ${what} row to be written, got ${rows.length}`);
  return rows[0]!;
}

/** The candidates not yet among `existing` (by email, user or channel), in order, each once. */
function freshParticipants(existing: PresentedParticipant[], candidates: ParticipantRecord[]): ParticipantRecord[] {
  const keyOf = (p: { email: string | null; user_id: number | null }) => (p.email ? `e:${p.email.toLowerCase()}` : `u:${p.user_id}`);
  const seen = new Set(existing.map(keyOf));
  const fresh: ParticipantRecord[] = [];
  for (const candidate of candidates) {
    if (!candidate.email && candidate.user_id === null) continue;
    const key = keyOf(candidate);
    if (seen.has(key)) continue;
    seen.add(key);
    fresh.push(candidate);
  }
  return fresh;
}

/**
 * Adds participants not yet in the conversation (by email, user or channel), after the existing
 * ones (read here unless the caller has them), and returns them all.
 */
export async function addParticipants(
  trx: Executor,
  accountId: number,
  sc: SideConversation,
  candidates: ParticipantRecord[],
  known?: PresentedParticipant[],
): Promise<PresentedParticipant[]> {
  const existing: PresentedParticipant[] = known ?? (await participantsOf(trx, accountId, [sc.id])).get(sc.id) ?? [];
  const fresh = freshParticipants(existing, candidates);
  if (fresh.length === 0) return existing;
  return [...existing, ...(await insertParticipants(trx, accountId, sc.id, fresh, existing.length))];
}

/**
 * A reply, in one statement: the event, the conversation's `message_added_at`/`preview_text`, a
 * closed conversation reopened (reported in `updates`), new participants. Returns the
 * participants after it when the caller passed the ones before (else null: nobody needed them).
 */
export async function recordReply(
  trx: Executor,
  input: {
    accountId: number;
    sc: SideConversation;
    via: EventVia;
    actor: ParticipantRecord;
    message: MessageContent;
    newParticipants?: ParticipantRecord[];
    participants?: PresentedParticipant[];
    /** Nothing follows the reply in its transaction: its statement may carry the commit. */
    endsTransaction?: boolean;
  },
  channel?: ChannelHooks,
): Promise<RecordedEvent & { sideConversation: SideConversation; updates: Record<string, unknown>; participants: PresentedParticipant[] | null }> {
  const { accountId, sc } = input;
  const updates: Record<string, unknown> = sc.state === 'closed' ? { state: 'open' } : {};
  const statement = new OneStatement();
  const updated = statement.add(
    trx
      .updateTable('side_conversations')
      .set({
        preview_text: input.message.preview,
        message_added_at: sql`now()`,
        updated_at: sql`now()`,
        ...(updates['state'] ? { state: 'open' as const, state_updated_at: sql`now()` } : {}),
      })
      .where('account_id', '=', accountId)
      .where('id', '=', sc.id)
      .returningAll(),
    { timestamps: SIDE_CONVERSATION_TIMESTAMPS },
  );
  let participants = (): PresentedParticipant[] | null => input.participants ?? null;
  if (input.newParticipants?.length) {
    const existing = input.participants ?? (await participantsOf(trx, accountId, [sc.id])).get(sc.id) ?? [];
    const fresh = freshParticipants(existing, input.newParticipants);
    participants = () => existing;
    if (fresh.length > 0) {
      const added = statement.add(insertParticipantsQuery(trx, accountId, sc.id, fresh, existing.length));
      participants = () => [...existing, ...participantsInOrder(added.rows())];
    }
  }
  const queued = await queueMessageEvent(statement, trx, { accountId, sc, type: 'reply', via: input.via, actor: input.actor, message: input.message }, channel);
  await statement.run(trx, { endsTransaction: input.endsTransaction === true && !queued.writesAfter });
  const sideConversation = onlyRow(updated.rows(), 'side conversation');
  const recorded = await queued.finish(trx, sideConversation);
  return { ...recorded, sideConversation, updates, participants: participants() };
}

/** A change of state and/or subject, with its `update` event. */
export async function recordUpdate(
  trx: Executor,
  input: {
    accountId: number;
    sc: SideConversation;
    via: EventVia;
    actor: ParticipantRecord;
    updates: { state?: SideConversationState; subject?: string };
    /** Also read the participants, in the same statement (the conversation is locked: none can change meanwhile). */
    withParticipants?: boolean;
    /** Nothing follows the change in its transaction: its statement may carry the commit. */
    endsTransaction?: boolean;
  },
): Promise<{ sideConversation: SideConversation; event: SideConversationEvent; participants?: PresentedParticipant[] }> {
  const { accountId, sc, updates } = input;
  const statement = new OneStatement();
  const updated = statement.add(
    trx
      .updateTable('side_conversations')
      .set({
        ...(updates.subject !== undefined ? { subject: updates.subject } : {}),
        ...(updates.state !== undefined ? { state: updates.state, state_updated_at: sql`now()` } : {}),
        updated_at: sql`now()`,
      })
      .where('account_id', '=', accountId)
      .where('id', '=', sc.id)
      .returningAll(),
    { timestamps: SIDE_CONVERSATION_TIMESTAMPS },
  );
  const event = statement.add(
    insertEventQuery(trx, {
      id: randomUUID(),
      account_id: accountId,
      side_conversation_id: sc.id,
      ticket_id: sc.ticket_id,
      type: 'update',
      via: input.via,
      actor: input.actor,
      message: null,
      updates: { ...updates },
    }),
    { timestamps: EVENT_TIMESTAMPS },
  );
  const participants = input.withParticipants ? statement.add(participantsQuery(trx, accountId, sc.id)) : null;
  await statement.run(trx, { endsTransaction: input.endsTransaction === true });
  return {
    sideConversation: onlyRow(updated.rows(), 'side conversation'),
    event: onlyRow(event.rows(), 'event'),
    ...(participants ? { participants: participantsInOrder(participants.rows()) } : {}),
  };
}
