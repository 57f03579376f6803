import type { EventVia, ParticipantRecord } from '../db/types.js';
import type { ValidationErrors } from '../errors.js';
import { hasControlCharacters } from '../http/email.js';
import { htmlToText, plainTextToHtml, previewText, sanitizeClientHtml } from '../text/html.js';
import type { ParticipantInput } from './participants.js';
import type { PresentedParticipant } from './repo.js';

/**
 * The rules a message or a change must pass, whichever road it comes by (the commands apply them;
 * imports check imported history with the same ones).
 */

export const MAX_SUBJECT_LENGTH = 255;
export const MAX_BODY_LENGTH = 65_536;
export const MAX_HTML_BODY_LENGTH = 262_144;
export const MAX_EXTERNAL_IDS = 50;

/** `external_ids`: a flat object of short string values (the reference: "All values must be strings"). */
export function checkExternalIds(value: unknown, field: string, errors: ValidationErrors): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    errors.add(field, 'External ids: must be an object of string values');
    return {};
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_EXTERNAL_IDS) errors.add(field, `External ids: at most ${MAX_EXTERNAL_IDS} keys`);
  const out: Record<string, string> = {};
  for (const [key, v] of entries) {
    if (typeof v !== 'string') errors.add(`${field}.${key}`, `External ids: the value of ${key} must be a string`);
    else if (key.length > 255 || v.length > 1024) errors.add(`${field}.${key}`, 'External ids: keys are at most 255 and values at most 1024 characters');
    else out[key] = v;
  }
  return out;
}

export function checkSubject(value: string, field: string, errors: ValidationErrors): void {
  if (value.length > MAX_SUBJECT_LENGTH) errors.add(field, `Subject: is too long (maximum is ${MAX_SUBJECT_LENGTH} characters)`);
  // A subject becomes a mail header: a line break in it would let a client inject headers.
  if (hasControlCharacters(value)) errors.add(field, 'Subject: must be a single line without control characters');
}

/** The message text in both forms, and its preview. */
export function messageBodies(message: { body?: string | null; html_body?: string | null }, errors: ValidationErrors) {
  const body = typeof message.body === 'string' ? message.body.trim() : '';
  const html = typeof message.html_body === 'string' ? message.html_body : '';
  if (body.length > MAX_BODY_LENGTH) errors.add('message.body', `Body: is too long (maximum is ${MAX_BODY_LENGTH} characters)`);
  if (html.length > MAX_HTML_BODY_LENGTH) errors.add('message.html_body', `Html body: is too long (maximum is ${MAX_HTML_BODY_LENGTH} characters)`);
  const htmlBody = html.trim() ? sanitizeClientHtml(html) : body ? plainTextToHtml(body) : '';
  const text = body || htmlToText(htmlBody).trim();
  if (!text) errors.add('message.body', 'Body: cannot be blank', 'BlankValue');
  return { body: text, htmlBody, preview: previewText(text) };
}

/** `from` may only name the sender itself: a client cannot send as somebody else. */
export function checkFrom(from: ParticipantInput | null | undefined, sender: ParticipantRecord, errors: ValidationErrors): void {
  if (!from) return;
  const sameUser = from.user_id === undefined || from.user_id === null || from.user_id === sender.user_id;
  const sameEmail = !from.email || (sender.email !== null && from.email.toLowerCase() === sender.email.toLowerCase());
  if (!sameUser || !sameEmail) errors.add('message.from', 'From: must be the authenticated agent');
}

/** Messages an agent writes leave through the conversation's channel; those that came from outside (email, Slack, Teams, the child ticket) are not sent back out. */
export const isOutbound = (via: EventVia): boolean => via === 'api' || via === 'zendesk';

/** A participant that stands for a channel (a Slack or Teams channel, a child ticket's group), not a person. */
function isChannelParticipant(p: { slack_channel_id?: string | null; msteams_channel_id?: string | null; support_group_id?: number | null }): boolean {
  return Boolean(p.slack_channel_id || p.msteams_channel_id || p.support_group_id);
}

/** Whether a participant is the sender: the same user, or the same address. */
export function isSender(p: PresentedParticipant | ParticipantRecord, sender: ParticipantRecord): boolean {
  if (isChannelParticipant(p)) return false;
  if (p.user_id !== null && p.user_id === sender.user_id) return true;
  return p.email !== null && sender.email !== null && p.email.toLowerCase() === sender.email.toLowerCase();
}

/**
 * Whom a message goes to unless it names its recipients: everyone but its sender and, when it came
 * in through the conversation's channel (a Slack or Teams thread, the child ticket), that
 * channel's own participant, where it came from.
 */
export function defaultRecipients(participants: PresentedParticipant[], sender: ParticipantRecord, cameThroughChannel: boolean): ParticipantRecord[] {
  return participants
    .filter((p) => !isSender(p, sender) && !(cameThroughChannel && isChannelParticipant(p)))
    .map((p) => ({
      user_id: p.user_id,
      name: p.name,
      email: p.email,
      ...(p.slack_workspace_id ? { slack_workspace_id: p.slack_workspace_id } : {}),
      ...(p.slack_channel_id ? { slack_channel_id: p.slack_channel_id } : {}),
      ...(p.support_group_id ? { support_group_id: p.support_group_id, support_agent_id: p.support_agent_id } : {}),
      ...(p.msteams_channel_id ? { msteams_channel_id: p.msteams_channel_id } : {}),
    }));
}
