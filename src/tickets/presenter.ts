import type { Ticket, TicketComment } from '../db/types.js';
import { isoSeconds } from '../http/time.js';

export function presentTicket(ticket: Ticket, base: string) {
  return {
    id: ticket.id,
    url: `${base}/api/v2/tickets/${ticket.id}.json`,
    external_id: null,
    via: { channel: ticket.via_channel },
    created_at: isoSeconds(ticket.created_at),
    updated_at: isoSeconds(ticket.updated_at),
    type: null,
    subject: ticket.subject,
    raw_subject: ticket.subject,
    description: ticket.description,
    priority: ticket.priority,
    status: ticket.status,
    requester_id: ticket.requester_id,
    submitter_id: ticket.submitter_id,
    assignee_id: ticket.assignee_id,
    organization_id: null,
    group_id: ticket.group_id,
    tags: [] as string[],
  };
}

export function presentComment(comment: TicketComment) {
  return {
    id: comment.id,
    type: 'Comment',
    author_id: comment.author_id,
    body: comment.body,
    html_body: comment.html_body,
    plain_body: comment.body,
    public: comment.public,
    attachments: [] as unknown[],
    via: { channel: comment.via_channel },
    created_at: isoSeconds(comment.created_at),
  };
}
