import type { Attachment } from '../db/types.js';

export function attachmentContentUrl(base: string, a: Attachment): string {
  const name = encodeURIComponent(a.file_name);
  return a.side_conversation_id && a.ticket_id !== null
    ? `${base}/api/v2/tickets/${a.ticket_id}/side_conversations/${a.side_conversation_id}/attachments/${a.id}/download/${name}`
    : `${base}/api/v2/tickets/side_conversations/attachments/${a.id}/download/${name}`;
}

/** Inside an event's message, as the reference's create response shows it. */
export function presentMessageAttachment(a: Attachment, base: string) {
  return {
    id: a.id,
    file_name: a.file_name,
    content_type: a.content_type,
    content_url: attachmentContentUrl(base, a),
    size: a.size,
    width: a.width,
    height: a.height,
    inline: a.inline,
  };
}

/** The upload response: Zendesk's bare attachment object, with the message fields beside it. */
export function presentUpload(a: Attachment, base: string) {
  return { name: a.file_name, ...presentMessageAttachment(a, base) };
}
