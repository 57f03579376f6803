import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { attachmentsOfEvents } from '../attachments/repo.js';
import { deliveriesOfEvents } from '../outbox/deliveries.js';
import type { Executor } from '../db/executor.js';
import { NO_READ_CACHE, type Reads } from '../db/read-cache.js';
import type {
  Attachment,
  Database,
  Delivery,
  EventVia,
  ParticipantRecord,
  SideConversation,
  SideConversationEvent,
  SideConversationState,
} from '../db/types.js';
import { notFound, tooManyRequests, ValidationErrors } from '../errors.js';
import { sql } from 'kysely';
import { hasControlCharacters } from '../http/email.js';
import type { OffsetPage } from '../http/pagination.js';
import { htmlToText, plainTextToHtml, previewText, sanitizeClientHtml } from '../text/html.js';
import { findTicket, findTicketForUpdate, insertComment } from '../tickets/repo.js';
import { createTicketIn } from '../tickets/service.js';
import { channelOf, resolveParticipants, type ParticipantInput } from './participants.js';
import {
  eventsOf,
  findSideConversation,
  findSideConversationWithParticipants,
  insertParticipants,
  insertSideConversation,
  eventsSince,
  listEvents,
  listSideConversations,
  participantsOf,
  type PresentedParticipant,
} from './repo.js';
import type { CreateSideConversationBody, ReplyBody, UpdateSideConversationBody } from './schemas.js';
import { recordMessageEvent, recordReply, recordUpdate, type MessageContent } from './thread.js';
import { newReplyToken } from '../channels/email/threading.js';

/** The agent (or, later, the outside sender) a write is done for. */
export interface Actor {
  accountId: number;
  userId: number | null;
  name: string | null;
  email: string | null;
}

export interface SideConversationWithParticipants {
  sideConversation: SideConversation;
  participants: PresentedParticipant[];
}

/** What an event's message carries besides its text: files, and per-recipient delivery status. */
export interface EventDetails {
  attachments: Attachment[];
  deliveries: Delivery[];
}

export interface EventsWithDetails {
  events: SideConversationEvent[];
  details: Map<string, EventDetails>;
}

export interface WriteResult extends SideConversationWithParticipants {
  event: SideConversationEvent | null;
  details: EventDetails;
  updates: Record<string, unknown>;
}

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

function checkSubject(value: string, field: string, errors: ValidationErrors): void {
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

function actorParticipant(actor: Actor): ParticipantRecord {
  return { user_id: actor.userId, name: actor.name, email: actor.email };
}

/** `from` may only name the agent making the request: a client cannot send as somebody else. */
function checkFrom(from: ParticipantInput | null | undefined, actor: Actor, errors: ValidationErrors): void {
  if (!from) return;
  const sameUser = from.user_id === undefined || from.user_id === null || from.user_id === actor.userId;
  const sameEmail = !from.email || (actor.email !== null && from.email.toLowerCase() === actor.email.toLowerCase());
  if (!sameUser || !sameEmail) errors.add('message.from', 'From: must be the authenticated agent');
}

/** The channel participants a message goes to by default: everyone but its sender. */
function recipientsOf(participants: PresentedParticipant[], sender: ParticipantRecord): ParticipantRecord[] {
  return participants
    .filter((p) => !(p.user_id !== null && p.user_id === sender.user_id && !p.support_group_id))
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

export const RATE_LIMIT_WINDOW_SECONDS = 600;

export function createSideConversationsService({
  db,
  reads = NO_READ_CACHE,
  rateLimitPer10Minutes = 0,
}: {
  db: Kysely<Database>;
  /** Hot reads (Show, List, Events) may be kept until the next write: the embedded store's ReadCache. */
  reads?: Reads | undefined;
  rateLimitPer10Minutes?: number;
}) {
  /**
   * Zendesk allows 300 side conversation creates and replies per 10 minutes per account; here the
   * number is the operator's (0: no limit). Counted from the events themselves, so every API
   * process on one database shares the same budget.
   */
  async function enforceRateLimit(accountId: number): Promise<void> {
    if (rateLimitPer10Minutes <= 0) return;
    const window = await db
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

  async function requireTicket(executor: Executor, accountId: number, ticketId: number, forUpdate = false) {
    const ticket = forUpdate ? await findTicketForUpdate(executor, accountId, ticketId) : await findTicket(executor, accountId, ticketId);
    if (!ticket) throw notFound();
    return ticket;
  }

  /** Found by account, ticket and id together: a conversation found means its ticket exists. */
  async function requireSideConversationForUpdate(trx: Executor, accountId: number, ticketId: number, id: string) {
    const sc = await findSideConversation(trx, accountId, ticketId, id, true);
    if (!sc) throw notFound();
    return sc;
  }

  async function participantsFor(executor: Executor, accountId: number, sc: SideConversation): Promise<PresentedParticipant[]> {
    return (await participantsOf(executor, accountId, [sc.id])).get(sc.id) ?? [];
  }

  async function withDetails(executor: Executor, accountId: number, events: SideConversationEvent[]): Promise<EventsWithDetails> {
    const ids = events.map((e) => e.id);
    const [attachments, deliveries] = await Promise.all([attachmentsOfEvents(executor, accountId, ids), deliveriesOfEvents(executor, accountId, ids)]);
    return {
      events,
      details: new Map(ids.map((id) => [id, { attachments: attachments.get(id) ?? [], deliveries: deliveries.get(id) ?? [] }])),
    };
  }

  return {
    async create(actor: Actor, ticketId: number, input: CreateSideConversationBody, via: EventVia = 'api'): Promise<WriteResult> {
      const message = input.message;
      if (via === 'api') await enforceRateLimit(actor.accountId);
      return db.transaction().execute(async (trx) => {
        const ticket = await requireTicket(trx, actor.accountId, ticketId, true);
        const errors = new ValidationErrors();
        const subject = (typeof message.subject === 'string' && message.subject.trim()) || ticket.subject;
        checkSubject(subject, 'message.subject', errors);
        const { body, htmlBody, preview } = messageBodies(message, errors);
        const conversationExternalIds = checkExternalIds(input.external_ids, 'external_ids', errors);
        const messageExternalIds = checkExternalIds(message.external_ids, 'message.external_ids', errors);
        checkFrom(message.from, actor, errors);
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
          reply_token: resolved.channel === 'email' ? newReplyToken() : null,
        });
        const sender = actorParticipant(actor);
        const others = resolved.recipients.filter((r) => !(r.user_id !== null && r.user_id === sender.user_id && !r.support_group_id));
        const participants = await insertParticipants(trx, actor.accountId, id, [sender, ...others]);
        const { event, attachments, deliveries } = await recordMessageEvent(trx, {
          accountId: actor.accountId,
          sc,
          type: 'create',
          via,
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
        });
        return { sideConversation: sc, participants, event, details: { attachments, deliveries }, updates: {} };
      });
    },

    async reply(actor: Actor, ticketId: number, id: string, input: ReplyBody, via: EventVia = 'api'): Promise<WriteResult> {
      const message = input.message;
      if (via === 'api') await enforceRateLimit(actor.accountId);
      return db.transaction().execute(async (trx) => {
        const sc = await requireSideConversationForUpdate(trx, actor.accountId, ticketId, id);
        const errors = new ValidationErrors();
        const { body, htmlBody, preview } = messageBodies(message, errors);
        const externalIds = checkExternalIds(message.external_ids, 'message.external_ids', errors);
        checkFrom(message.from, actor, errors);
        errors.throwIfAny();

        const sender = actorParticipant(actor);
        const participants = await participantsFor(trx, actor.accountId, sc);
        let to = recipientsOf(participants, sender);
        let newParticipants: ParticipantRecord[] = [];
        if (message.to && message.to.length > 0) {
          const given = message.to as ParticipantInput[];
          if (channelOf(given, 'message.to') !== sc.channel) {
            errors.add('message.to', `To: a reply stays in the side conversation's own type (${sc.channel})`, 'MixedParticipantTypes');
            errors.throwIfAny();
          }
          if (sc.channel !== 'email') {
            errors.add('message.to', 'To: only email side conversations can change their recipients');
            errors.throwIfAny();
          }
          to = (await resolveParticipants(trx, actor.accountId, given, 'message.to')).recipients;
          newParticipants = to;
        }

        if (sc.channel === 'child_ticket') {
          // A reply is a comment on the child ticket, written here and marked so it is not echoed back.
          const childId = Number(sc.external_ids['targetTicketId']);
          const child = Number.isSafeInteger(childId) ? await findTicketForUpdate(trx, actor.accountId, childId) : undefined;
          if (!child) {
            errors.add('base', 'The child ticket of this side conversation no longer exists');
          } else if (child.status === 'closed') {
            errors.add('base', `The child ticket ${child.id} is closed and takes no more comments`);
          }
          errors.throwIfAny();
          await insertComment(trx, {
            account_id: actor.accountId,
            ticket_id: childId,
            author_id: actor.userId!,
            body,
            html_body: htmlBody,
            public: true,
            via_channel: 'side_conversation',
          });
          await trx
            .updateTable('tickets')
            .set({ updated_at: new Date() })
            .where('account_id', '=', actor.accountId)
            .where('id', '=', childId)
            .execute();
        }

        const content: MessageContent = {
          subject: null,
          body,
          htmlBody,
          preview,
          from: sender,
          to,
          externalIds,
          attachmentIds: message.attachment_ids ?? [],
        };
        const result = await recordReply(trx, { accountId: actor.accountId, sc, via, actor: sender, message: content, newParticipants, participants });
        return {
          sideConversation: result.sideConversation,
          participants: result.participants ?? participants,
          event: result.event,
          details: { attachments: result.attachments, deliveries: result.deliveries },
          updates: result.updates,
        };
      });
    },

    async update(actor: Actor, ticketId: number, id: string, input: UpdateSideConversationBody, via: EventVia = 'api'): Promise<WriteResult> {
      const fields = input.side_conversation;
      return db.transaction().execute(async (trx) => {
        const sc = await requireSideConversationForUpdate(trx, actor.accountId, ticketId, id);
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

        const updates: { state?: SideConversationState; subject?: string } = {};
        if (state !== undefined && state !== sc.state) updates.state = state;
        if (subject !== undefined && subject !== sc.subject) updates.subject = subject;
        if (Object.keys(updates).length === 0) {
          // Nothing changed: no event, and the conversation is returned as it is.
          return { sideConversation: sc, participants: await participantsFor(trx, actor.accountId, sc), event: null, details: { attachments: [], deliveries: [] }, updates: {} };
        }
        const result = await recordUpdate(trx, { accountId: actor.accountId, sc, via, actor: actorParticipant(actor), updates });
        return {
          sideConversation: result.sideConversation,
          participants: await participantsFor(trx, actor.accountId, result.sideConversation),
          event: result.event,
          details: { attachments: [], deliveries: [] },
          updates,
        };
      });
    },

    async show(accountId: number, ticketId: number, id: string, includeEvents: boolean) {
      // Found by account, ticket and id together: a conversation found means its ticket exists.
      const found = await reads.get(`show/${accountId}/${ticketId}/${id}`, () => findSideConversationWithParticipants(db, accountId, ticketId, id));
      if (!found) throw notFound();
      const events = includeEvents ? await withDetails(db, accountId, await eventsOf(db, accountId, [id])) : undefined;
      return { ...found, events };
    },

    async list(accountId: number, ticketId: number, page: OffsetPage, includeEvents: boolean) {
      const listed = await reads.get(`list/${accountId}/${ticketId}/${page.offset}/${page.perPage}`, () =>
        listSideConversations(db, accountId, ticketId, page.offset, page.perPage),
      );
      if (!listed) throw notFound();
      const ids = listed.rows.map((r) => r.sideConversation.id);
      const events = includeEvents ? await withDetails(db, accountId, await eventsOf(db, accountId, ids)) : undefined;
      return { items: listed.rows, count: listed.count, events };
    },

    /**
     * The incremental export: events from `startTime` (unix seconds) on, at most `limit`. Like
     * Zendesk's exports, the next page starts at the last event's second, so a client may see an
     * event twice at a page boundary (it dedupes by id) but never misses one.
     */
    async exportEvents(accountId: number, startTime: number, limit: number) {
      let rows = await eventsSince(db, accountId, new Date(startTime * 1000), limit);
      const secondOf = (e: SideConversationEvent) => Math.floor(e.created_at.getTime() / 1000);
      const last = rows[rows.length - 1];
      let endTime = last ? secondOf(last) : startTime;
      if (rows.length === limit && endTime === startTime) {
        // A full page inside one second would send the client back to the same second forever:
        // this page takes that whole second instead (bounded), and the next starts after it.
        rows = (await eventsSince(db, accountId, new Date(startTime * 1000), 10_000)).filter((e) => secondOf(e) === startTime);
        endTime = startTime + 1;
      }
      return { ...(await withDetails(db, accountId, rows)), endTime, more: rows.length >= limit };
    },

    async events(accountId: number, ticketId: number, id: string, page: OffsetPage) {
      return reads.get(`events/${accountId}/${ticketId}/${id}/${page.offset}/${page.perPage}`, async () => {
        const listed = await listEvents(db, accountId, ticketId, id, page.offset, page.perPage);
        if (!listed) throw notFound();
        return { ...(await withDetails(db, accountId, listed.rows)), count: listed.count };
      });
    },
  };
}

export type SideConversationsService = ReturnType<typeof createSideConversationsService>;
