import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Executor } from '../db/executor.js';
import type {
  Database,
  EventVia,
  ParticipantRecord,
  SideConversation,
  SideConversationEvent,
  SideConversationParticipant,
  SideConversationState,
} from '../db/types.js';
import { notFound, ValidationErrors } from '../http/errors.js';
import { hasControlCharacters } from '../http/email.js';
import type { OffsetPage } from '../http/pagination.js';
import { emitOutbox } from '../outbox/emit.js';
import { htmlToText, plainTextToHtml, previewText, sanitizeClientHtml } from '../text/html.js';
import { findTicket, findTicketForUpdate } from '../tickets/repo.js';
import { createTicketIn } from '../tickets/service.js';
import { resolveParticipants, type ParticipantInput } from './participants.js';
import {
  eventsOf,
  findSideConversation,
  findSideConversationForUpdate,
  insertEvent,
  insertParticipants,
  insertSideConversation,
  listSideConversations,
  participantsOf,
  updateSideConversation,
} from './repo.js';
import type { CreateSideConversationBody, UpdateSideConversationBody } from './schemas.js';

/** The agent (or, later, the outside sender) a write is done for. */
export interface Actor {
  accountId: number;
  userId: number | null;
  name: string | null;
  email: string | null;
}

export interface SideConversationWithParticipants {
  sideConversation: SideConversation;
  participants: SideConversationParticipant[];
}

export interface WriteResult extends SideConversationWithParticipants {
  event: SideConversationEvent | null;
  updates: Record<string, unknown>;
}

export const MAX_SUBJECT_LENGTH = 255;
export const MAX_BODY_LENGTH = 65_536;
export const MAX_HTML_BODY_LENGTH = 262_144;
export const MAX_EXTERNAL_IDS = 50;

/** `external_ids`: a flat object of short string values (the reference: "All values must be strings"). */
function checkExternalIds(value: unknown, field: string, errors: ValidationErrors): Record<string, string> {
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

function checkSubject(value: string, field: string, errors: ValidationErrors): void {
  if (value.length > MAX_SUBJECT_LENGTH) errors.add(field, `Subject: is too long (maximum is ${MAX_SUBJECT_LENGTH} characters)`);
  // A subject becomes a mail header: a line break in it would let a client inject headers.
  if (hasControlCharacters(value)) errors.add(field, 'Subject: must be a single line without control characters');
}

/** The message text in both forms, and its preview. */
function messageBodies(message: { body?: string | null; html_body?: string | null }, errors: ValidationErrors) {
  const body = typeof message.body === 'string' ? message.body.trim() : '';
  const html = typeof message.html_body === 'string' ? message.html_body : '';
  if (body.length > MAX_BODY_LENGTH) errors.add('message.body', `Body: is too long (maximum is ${MAX_BODY_LENGTH} characters)`);
  if (html.length > MAX_HTML_BODY_LENGTH) errors.add('message.html_body', `Html body: is too long (maximum is ${MAX_HTML_BODY_LENGTH} characters)`);
  const htmlBody = html.trim() ? sanitizeClientHtml(html) : body ? plainTextToHtml(body) : '';
  const text = body || htmlToText(htmlBody).trim();
  if (!text) errors.add('message.body', 'Body: cannot be blank', 'BlankValue');
  return { body: text, htmlBody, preview: previewText(text) };
}

function actorParticipant(actor: Actor): ParticipantRecord {
  return { user_id: actor.userId, name: actor.name, email: actor.email };
}

/**
 * `from` may only name the agent making the request: a client cannot send as somebody else.
 */
function checkFrom(from: ParticipantInput | null | undefined, actor: Actor, errors: ValidationErrors): void {
  if (!from) return;
  const sameUser = from.user_id === undefined || from.user_id === null || from.user_id === actor.userId;
  const sameEmail = !from.email || (actor.email !== null && from.email.toLowerCase() === actor.email.toLowerCase());
  if (!sameUser || !sameEmail) errors.add('message.from', 'From: must be the authenticated agent');
}

export function createSideConversationsService({ db }: { db: Kysely<Database> }) {
  async function requireTicket(executor: Executor, accountId: number, ticketId: number, forUpdate = false) {
    const ticket = forUpdate ? await findTicketForUpdate(executor, accountId, ticketId) : await findTicket(executor, accountId, ticketId);
    if (!ticket) throw notFound();
    return ticket;
  }

  async function withParticipants(executor: Executor, accountId: number, sc: SideConversation): Promise<SideConversationWithParticipants> {
    const participants = (await participantsOf(executor, accountId, [sc.id])).get(sc.id) ?? [];
    return { sideConversation: sc, participants };
  }

  return {
    async create(actor: Actor, ticketId: number, input: CreateSideConversationBody, via: EventVia = 'api'): Promise<WriteResult> {
      const message = input.message;
      return db.transaction().execute(async (trx) => {
        const ticket = await requireTicket(trx, actor.accountId, ticketId, true);
        const errors = new ValidationErrors();
        const subject = (typeof message.subject === 'string' && message.subject.trim()) || ticket.subject;
        checkSubject(subject, 'message.subject', errors);
        const { body, htmlBody, preview } = messageBodies(message, errors);
        const conversationExternalIds = checkExternalIds(input.external_ids, 'external_ids', errors);
        const messageExternalIds = checkExternalIds(message.external_ids, 'message.external_ids', errors);
        checkFrom(message.from, actor, errors);
        if (message.attachment_ids && message.attachment_ids.length > 0) {
          // Uploads are not bound to messages yet: any id is one we do not know.
          for (const id of message.attachment_ids) errors.add('message.attachment_ids', `Attachment: ${id} not found`, 'NotFound');
        }
        errors.throwIfAny();
        const resolved = await resolveParticipants(trx, actor.accountId, message.to as ParticipantInput[] | undefined, 'message.to');

        const id = randomUUID();
        const externalIds = { ...conversationExternalIds };
        if (resolved.childTicket) {
          const child = await createTicketIn(
            trx,
            { accountId: actor.accountId, userId: actor.userId! },
            {
              subject,
              comment: { body, html_body: htmlBody },
              group_id: resolved.childTicket.groupId,
              assignee_id: resolved.childTicket.agentId,
              via_channel: 'side_conversation',
              parent_side_conversation_id: id,
            },
          );
          externalIds['targetTicketId'] = String(child.id);
        }
        const sc = await insertSideConversation(trx, {
          id,
          account_id: actor.accountId,
          ticket_id: ticket.id,
          channel: resolved.channel,
          subject,
          state: 'open',
          preview_text: preview,
          external_ids: externalIds,
        });
        const sender = actorParticipant(actor);
        const participants = [sender, ...resolved.recipients.filter((r) => !(r.user_id !== null && r.user_id === sender.user_id && !r.support_group_id))];
        await insertParticipants(trx, actor.accountId, id, participants);
        const event = await insertEvent(trx, {
          id: randomUUID(),
          account_id: actor.accountId,
          side_conversation_id: id,
          ticket_id: ticket.id,
          type: 'create',
          via,
          actor: sender,
          message: {
            subject,
            body,
            html_body: htmlBody,
            preview_text: preview,
            from: sender,
            to: resolved.recipients,
            external_ids: messageExternalIds,
            attachment_ids: [],
          },
          updates: null,
        });
        await emitOutbox(trx, { accountId: actor.accountId, channel: resolved.channel, sideConversationId: id, eventId: event.id });
        return { ...(await withParticipants(trx, actor.accountId, sc)), event, updates: {} };
      });
    },

    async update(actor: Actor, ticketId: number, id: string, input: UpdateSideConversationBody, via: EventVia = 'api'): Promise<WriteResult> {
      const fields = input.side_conversation;
      return db.transaction().execute(async (trx) => {
        await requireTicket(trx, actor.accountId, ticketId);
        const sc = await findSideConversationForUpdate(trx, actor.accountId, ticketId, id);
        if (!sc) throw notFound();
        const errors = new ValidationErrors();
        let state: SideConversationState | undefined;
        if (fields.state !== undefined) {
          if (fields.state !== 'open' && fields.state !== 'closed') errors.add('state', 'State: must be "open" or "closed"');
          else state = fields.state;
        }
        let subject: string | undefined;
        if (fields.subject !== undefined && fields.subject !== null) {
          subject = fields.subject.trim();
          if (!subject) errors.add('subject', 'Subject: cannot be blank', 'BlankValue');
          checkSubject(subject, 'subject', errors);
        }
        errors.throwIfAny();

        const updates: Record<string, unknown> = {};
        if (state !== undefined && state !== sc.state) updates['state'] = state;
        if (subject !== undefined && subject !== sc.subject) updates['subject'] = subject;
        if (Object.keys(updates).length === 0) {
          // Nothing changed: no event, and the conversation is returned as it is.
          return { ...(await withParticipants(trx, actor.accountId, sc)), event: null, updates };
        }
        const updated = await updateSideConversation(trx, actor.accountId, id, {
          ...(updates['subject'] !== undefined ? { subject: updates['subject'] as string } : {}),
          ...(updates['state'] !== undefined ? { state: updates['state'] as SideConversationState, stateChanged: true } : {}),
        });
        const event = await insertEvent(trx, {
          id: randomUUID(),
          account_id: actor.accountId,
          side_conversation_id: id,
          ticket_id: ticketId,
          type: 'update',
          via,
          actor: actorParticipant(actor),
          message: null,
          updates,
        });
        return { ...(await withParticipants(trx, actor.accountId, updated)), event, updates };
      });
    },

    async show(accountId: number, ticketId: number, id: string, includeEvents: boolean) {
      await requireTicket(db, accountId, ticketId);
      const sc = await findSideConversation(db, accountId, ticketId, id);
      if (!sc) throw notFound();
      const result = await withParticipants(db, accountId, sc);
      const events = includeEvents ? await eventsOf(db, accountId, [sc.id]) : undefined;
      return { ...result, events };
    },

    async list(accountId: number, ticketId: number, page: OffsetPage, includeEvents: boolean) {
      await requireTicket(db, accountId, ticketId);
      const { rows, count } = await listSideConversations(db, accountId, ticketId, page.offset, page.perPage);
      const ids = rows.map((r) => r.id);
      const [participants, events] = await Promise.all([
        participantsOf(db, accountId, ids),
        includeEvents ? eventsOf(db, accountId, ids) : Promise.resolve(undefined),
      ]);
      return {
        items: rows.map((sc) => ({ sideConversation: sc, participants: participants.get(sc.id) ?? [] })),
        count,
        events,
      };
    },
  };
}

export type SideConversationsService = ReturnType<typeof createSideConversationsService>;
