import { presentMessageAttachment } from '../attachments/presenter.js';
import type { EventDetails, EventsWithDetails } from './service.js';
import type { ParticipantRecord, SideConversation, SideConversationEvent } from '../db/types.js';
import { isoMillis, isoMillisOffset } from '../http/time.js';
import type { PresentedParticipant } from './repo.js';
import { Type } from '@sinclair/typebox';
import { jsonSerializer } from '../http/validation.js';
import { PageLinks } from '../http/pagination.js';
import { EventSchema, SideConversationSchema } from './schemas.js';

/** `{user_id, name, email}` always, and the type's own properties when it has them. */
export function presentParticipant(p: ParticipantRecord | PresentedParticipant) {
  const out: Record<string, unknown> = { user_id: p.user_id ?? null, name: p.name ?? null, email: p.email ?? null };
  if (p.slack_workspace_id) out['slack_workspace_id'] = p.slack_workspace_id;
  if (p.slack_channel_id) out['slack_channel_id'] = p.slack_channel_id;
  if (p.support_group_id) {
    out['support_group_id'] = p.support_group_id;
    out['support_agent_id'] = p.support_agent_id ?? null;
  }
  if (p.msteams_channel_id) out['msteams_channel_id'] = p.msteams_channel_id;
  return out as { user_id: number | null; name: string | null; email: string | null };
}

export function sideConversationUrl(base: string, ticketId: number, id: string): string {
  return `${base}/api/v2/tickets/${ticketId}/side_conversations/${id}`;
}

export function presentSideConversation(sc: SideConversation, participants: ReadonlyArray<ParticipantRecord | PresentedParticipant>, base: string) {
  return {
    url: sideConversationUrl(base, sc.ticket_id, sc.id),
    id: sc.id,
    ticket_id: sc.ticket_id,
    subject: sc.subject,
    preview_text: sc.preview_text,
    state: sc.state,
    participants: participants.map(presentParticipant),
    created_at: isoMillisOffset(sc.created_at),
    updated_at: isoMillisOffset(sc.updated_at),
    message_added_at: isoMillisOffset(sc.message_added_at),
    state_updated_at: isoMillisOffset(sc.state_updated_at),
    external_ids: sc.external_ids,
  };
}

const conversationJsonOf = jsonSerializer<ReturnType<typeof presentSideConversation>>(SideConversationSchema);
const eventsJsonOf = jsonSerializer<unknown[]>(Type.Array(EventSchema));
const pageLinksJsonOf = jsonSerializer<{ next_page: string | null; previous_page: string | null; count: number }>(Type.Object(PageLinks));

/** A conversation's JSON: the bytes a reply declaring SideConversationSchema sends for it. */
export function sideConversationJson(sc: SideConversation, participants: ReadonlyArray<ParticipantRecord | PresentedParticipant>, base: string): string {
  return conversationJsonOf(presentSideConversation(sc, participants, base));
}

/** Show's answer (ShowEnvelope) around a conversation's JSON. */
export function showEnvelopeJson(conversation: string, events: unknown[] | undefined): string {
  return `{"side_conversation":${conversation}${events ? `,"events":${eventsJsonOf(events)}` : ''}}`;
}

/** List's answer (ListEnvelope, in its key order) around the page's conversations' JSON. */
export function listEnvelopeJson(
  conversations: string[],
  events: unknown[] | undefined,
  links: { next_page: string | null; previous_page: string | null; count: number },
): string {
  return `{"side_conversations":[${conversations.join(',')}]${events ? `,"events":${eventsJsonOf(events)}` : ''},${pageLinksJsonOf(links).slice(1)}`;
}

export function presentEvent(event: SideConversationEvent, details: EventDetails, base: string) {
  const message = event.message;
  return {
    id: event.id,
    side_conversation_id: event.side_conversation_id,
    ticket_id: event.ticket_id,
    actor: { user_id: event.actor_user_id, name: event.actor_name, email: event.actor_email },
    type: event.type,
    via: event.via,
    created_at: isoMillis(event.created_at),
    message: message
      ? {
          subject: message.subject,
          body: message.body,
          html_body: message.html_body,
          preview_text: message.preview_text,
          from: presentParticipant(message.from),
          to: message.to.map(presentParticipant),
          attachments: details.attachments.map((a) => presentMessageAttachment(a, base)),
          deliveries: details.deliveries.map((d) => ({
            recipient: d.recipient,
            status: d.status,
            reason: d.reason,
            updated_at: isoMillis(d.updated_at),
          })),
          external_ids: message.external_ids,
        }
      : null,
    updates: event.updates ?? {},
  };
}

/** Events with their attachments, as in an `events` array. */
export function presentEvents(events: EventsWithDetails, base: string) {
  return events.events.map((e) => presentEvent(e, events.details.get(e.id) ?? { attachments: [], deliveries: [] }, base));
}
