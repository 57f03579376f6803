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
import { emitOutbox } from '../outbox/emit.js';
import type { ChannelHooks } from './hooks.js';
import { isOutbound } from './rules.js';
import { insertEvent, insertParticipants, participantsOf, type PresentedParticipant } from './repo.js';

/**
 * The writes of a message or a change, for the commands (commands.ts), which decide what is
 * written. All run in the caller's transaction, so a conversation, its event, its attachments and
 * its outbox row commit together.
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

/** Writes a create or reply event, binds its attachments and queues its delivery (with the channel's own record of it). */
export async function recordMessageEvent(
  trx: Executor,
  input: { accountId: number; sc: SideConversation; type: 'create' | 'reply'; via: EventVia; actor: ParticipantRecord; message: MessageContent },
  channel?: ChannelHooks,
): Promise<RecordedEvent> {
  const { accountId, sc, message } = input;
  const eventId = randomUUID();
  const event = await insertEvent(trx, {
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
  });
  const attachments = await bindAttachmentsToMessage(trx, accountId, message.attachmentIds, {
    ticketId: sc.ticket_id,
    sideConversationId: sc.id,
    eventId,
  });
  let deliveries: Delivery[] = [];
  if (isOutbound(input.via)) {
    deliveries = await emitOutbox(trx, { accountId, channel: sc.channel, sideConversationId: sc.id, eventId, recipients: message.to });
    await channel?.onOutboundMessage?.(trx, { accountId, sideConversation: sc, event, actor: input.actor, body: message.body, htmlBody: message.htmlBody });
  }
  return { event, attachments, deliveries };
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
  if (fresh.length === 0) return existing;
  return [...existing, ...(await insertParticipants(trx, accountId, sc.id, fresh, existing.length))];
}

/**
 * A reply: the event, the conversation's `message_added_at`/`preview_text`, and a closed
 * conversation reopened (reported in `updates`). Returns the participants after it when the
 * caller passed the ones before (else null: nobody needed them).
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
  },
  channel?: ChannelHooks,
): Promise<RecordedEvent & { sideConversation: SideConversation; updates: Record<string, unknown>; participants: PresentedParticipant[] | null }> {
  const { accountId, sc } = input;
  const updates: Record<string, unknown> = sc.state === 'closed' ? { state: 'open' } : {};
  const updated = await trx
    .updateTable('side_conversations')
    .set({
      preview_text: input.message.preview,
      message_added_at: sql`now()`,
      updated_at: sql`now()`,
      ...(updates['state'] ? { state: 'open' as const, state_updated_at: sql`now()` } : {}),
    })
    .where('account_id', '=', accountId)
    .where('id', '=', sc.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  const participants = input.newParticipants?.length
    ? await addParticipants(trx, accountId, updated, input.newParticipants, input.participants)
    : (input.participants ?? null);
  const recorded = await recordMessageEvent(trx, { accountId, sc: updated, type: 'reply', via: input.via, actor: input.actor, message: input.message }, channel);
  return { ...recorded, sideConversation: updated, updates, participants };
}

/** A change of state and/or subject, with its `update` event. */
export async function recordUpdate(
  trx: Executor,
  input: { accountId: number; sc: SideConversation; via: EventVia; actor: ParticipantRecord; updates: { state?: SideConversationState; subject?: string } },
): Promise<{ sideConversation: SideConversation; event: SideConversationEvent }> {
  const { accountId, sc, updates } = input;
  const updated = await trx
    .updateTable('side_conversations')
    .set({
      ...(updates.subject !== undefined ? { subject: updates.subject } : {}),
      ...(updates.state !== undefined ? { state: updates.state, state_updated_at: sql`now()` } : {}),
      updated_at: sql`now()`,
    })
    .where('account_id', '=', accountId)
    .where('id', '=', sc.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  const event = await insertEvent(trx, {
    id: randomUUID(),
    account_id: accountId,
    side_conversation_id: sc.id,
    ticket_id: sc.ticket_id,
    type: 'update',
    via: input.via,
    actor: input.actor,
    message: null,
    updates: { ...updates },
  });
  return { sideConversation: updated, event };
}
