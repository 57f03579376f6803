import type { Kysely } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Database, Ticket, TicketStatus, TicketsTable } from '../db/types.js';
import type { Updateable } from 'kysely';
import { notFound, ValidationErrors } from '../errors.js';
import type { OffsetPage } from '../http/pagination.js';
import { htmlToText, plainTextToHtml, sanitizeClientHtml } from '../text/html.js';
import { findMembership, findGroup } from '../groups/repo.js';
import { findUser } from '../users/repo.js';
import {
  findTicket,
  findTicketForUpdate,
  insertComment,
  insertTicket,
  listComments,
  listTickets,
  nextTicketId,
  updateTicket,
} from './repo.js';
import type { CreateTicketBody, UpdateTicketBody } from './schemas.js';

export interface TicketActor {
  accountId: number;
  userId: number;
}

export interface NewTicketInput {
  subject?: string | undefined;
  comment: { body?: string | undefined; html_body?: string | undefined; public?: boolean | undefined };
  requester_id?: number | undefined;
  group_id?: number | null | undefined;
  assignee_id?: number | null | undefined;
  status?: TicketStatus | undefined;
  priority?: string | null | undefined;
  via_channel?: string;
  parent_side_conversation_id?: string | null;
}

/** A comment's text and HTML, and which of them it was written in. */
export interface CommentBodies {
  body: string;
  html: string;
  writtenAs: 'text' | 'html';
}

/** A comment's text and HTML: plain text is escaped and paragraphed, client HTML is sanitised. */
export function commentBodies(comment: { body?: string | undefined; html_body?: string | undefined }): CommentBodies | null {
  const body = comment.body?.trim() ?? '';
  if (body) return { body, html: plainTextToHtml(body), writtenAs: 'text' };
  if (comment.html_body?.trim()) {
    const html = sanitizeClientHtml(comment.html_body);
    const text = htmlToText(html).trim();
    if (text) return { body: text, html, writtenAs: 'html' };
  }
  return null;
}

/**
 * Runs after a ticket is updated, in its transaction: a child ticket's comment and status show on
 * its parent side conversation (registered by the child-ticket channel at wiring time).
 */
export type TicketUpdatedHook = (
  trx: Executor,
  change: { accountId: number; before: Ticket; after: Ticket; authorId: number; comment: CommentBodies | null },
) => Promise<void>;

/** Checks that an assignee is an agent of the account and, when a group is set, one of its members. */
async function checkAssignment(
  db: Executor,
  accountId: number,
  groupId: number | null,
  assigneeId: number | null,
  errors: ValidationErrors,
): Promise<void> {
  if (groupId !== null && !(await findGroup(db, accountId, groupId))) errors.add('group_id', 'Group: not found');
  if (assigneeId === null) return;
  const assignee = await findUser(db, accountId, assigneeId);
  if (!assignee || assignee.role === 'end-user' || !assignee.active) {
    errors.add('assignee_id', 'Assignee: must be an agent of this account');
    return;
  }
  if (groupId !== null && !(await findMembership(db, accountId, assigneeId, groupId))) {
    errors.add('assignee_id', 'Assignee: is not a member of the group');
  }
}

/**
 * Creates a ticket with its first comment inside the caller's transaction: side conversations
 * create child tickets this way, atomically with the conversation itself.
 */
export async function createTicketIn(trx: Executor, actor: TicketActor, input: NewTicketInput): Promise<Ticket> {
  const errors = new ValidationErrors();
  const comment = commentBodies(input.comment);
  if (!comment) errors.add('comment', 'Comment: body cannot be blank');
  const requesterId = input.requester_id ?? actor.userId;
  if (input.requester_id !== undefined && !(await findUser(trx, actor.accountId, input.requester_id))) {
    errors.add('requester_id', 'Requester: not found');
  }
  const groupId = input.group_id ?? null;
  const assigneeId = input.assignee_id ?? null;
  await checkAssignment(trx, actor.accountId, groupId, assigneeId, errors);
  errors.throwIfAny();

  const subject = input.subject?.trim() || comment!.body.replace(/\s+/g, ' ').slice(0, 80);
  const id = await nextTicketId(trx, actor.accountId);
  const viaChannel = input.via_channel ?? 'api';
  const ticket = await insertTicket(trx, {
    account_id: actor.accountId,
    id,
    subject,
    description: comment!.body,
    status: input.status ?? (assigneeId !== null ? 'open' : 'new'),
    priority: input.priority ?? null,
    requester_id: requesterId,
    submitter_id: actor.userId,
    assignee_id: assigneeId,
    group_id: groupId,
    parent_side_conversation_id: input.parent_side_conversation_id ?? null,
    via_channel: viaChannel,
  });
  await insertComment(trx, {
    account_id: actor.accountId,
    ticket_id: id,
    author_id: actor.userId,
    body: comment!.body,
    html_body: comment!.html,
    public: input.comment.public ?? true,
    via_channel: viaChannel,
  });
  return ticket;
}

export function createTicketsService({ db, onUpdated }: { db: Kysely<Database>; onUpdated?: TicketUpdatedHook | undefined }) {
  return {
    createTicket(actor: TicketActor, input: CreateTicketBody['ticket']): Promise<Ticket> {
      return db.transaction().execute((trx) => createTicketIn(trx, actor, input as NewTicketInput));
    },

    async showTicket(accountId: number, id: number): Promise<Ticket> {
      const ticket = await findTicket(db, accountId, id);
      if (!ticket) throw notFound();
      return ticket;
    },

    listTickets(accountId: number, page: OffsetPage) {
      return listTickets(db, accountId, page.offset, page.perPage);
    },

    async updateTicket(actor: TicketActor, id: number, input: UpdateTicketBody['ticket']): Promise<Ticket> {
      return db.transaction().execute(async (trx) => {
        const ticket = await findTicketForUpdate(trx, actor.accountId, id);
        if (!ticket) throw notFound();
        const errors = new ValidationErrors();
        if (ticket.status === 'closed') errors.add('status', 'Status: closed prevents ticket update');
        errors.throwIfAny();

        const changes: Updateable<TicketsTable> = {};
        if (input.subject !== undefined && input.subject.trim() && input.subject.trim() !== ticket.subject) {
          changes.subject = input.subject.trim();
        }
        if (input.status !== undefined && input.status !== ticket.status) changes.status = input.status;
        if (input.priority !== undefined && input.priority !== ticket.priority) changes.priority = input.priority;

        const groupId = input.group_id !== undefined ? input.group_id : ticket.group_id;
        let assigneeId = input.assignee_id !== undefined ? input.assignee_id : ticket.assignee_id;
        // Moving a ticket to another group unassigns an agent who is not in it, as help desks do.
        if (input.group_id !== undefined && input.assignee_id === undefined && assigneeId !== null && groupId !== null) {
          if (!(await findMembership(trx, actor.accountId, assigneeId, groupId))) assigneeId = null;
        }
        if (groupId !== ticket.group_id || assigneeId !== ticket.assignee_id) {
          await checkAssignment(trx, actor.accountId, groupId, assigneeId, errors);
          changes.group_id = groupId;
          changes.assignee_id = assigneeId;
        }
        let comment: CommentBodies | null = null;
        if (input.comment !== undefined) {
          comment = commentBodies(input.comment);
          if (!comment) errors.add('comment', 'Comment: body cannot be blank');
        }
        errors.throwIfAny();

        if (comment) {
          await insertComment(trx, {
            account_id: actor.accountId,
            ticket_id: id,
            author_id: actor.userId,
            body: comment.body,
            html_body: comment.html,
            public: input.comment?.public ?? true,
            via_channel: 'api',
          });
          if (ticket.status === 'new' && changes.status === undefined) changes.status = 'open';
        }
        if (Object.keys(changes).length === 0 && !comment) return ticket;
        const updated = await updateTicket(trx, actor.accountId, id, { ...changes, updated_at: new Date() });
        await onUpdated?.(trx, { accountId: actor.accountId, before: ticket, after: updated, authorId: actor.userId, comment });
        return updated;
      });
    },

    async listComments(accountId: number, ticketId: number, page: OffsetPage) {
      if (!(await findTicket(db, accountId, ticketId))) throw notFound();
      return listComments(db, accountId, ticketId, page.offset, page.perPage);
    },
  };
}

export type TicketsService = ReturnType<typeof createTicketsService>;
