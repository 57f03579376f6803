import type { Kysely } from 'kysely';
import type { Database, Ticket, TicketStatus } from '../db/types.js';
import { findGroup } from '../groups/repo.js';
import { ValidationErrors } from '../errors.js';
import { commentBodies } from '../tickets/service.js';
import { sanitizeClientHtml } from '../text/html.js';
import { insertTicket, nextTicketId } from '../tickets/repo.js';
import { findUser } from '../users/repo.js';
import { insertImportedComments, recordCheckpoint, type CheckpointKey } from './repo.js';
import { FUTURE_SKEW_MS } from './side-conversations.js';
import type { ImportTicketBody } from './schemas.js';

/**
 * Zendesk's Ticket Import (POST /api/v2/imports/tickets): a ticket with its comments as they were,
 * authors and times kept. Like Zendesk's, it triggers nothing (there are no ticket triggers here),
 * and it takes the next ticket id of the account.
 */
export function createTicketImports({ db }: { db: Kysely<Database> }) {
  return {
    async importTicket(actor: { accountId: number; userId: number }, input: ImportTicketBody['ticket'], options: { checkpoint?: CheckpointKey } = {}): Promise<Ticket> {
      const errors = new ValidationErrors();
      const time = (value: string | null | undefined, field: string): Date | null => {
        if (value === undefined || value === null) return null;
        const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
        if (!Number.isFinite(ms)) errors.add(field, `${field}: ${value} is not an ISO 8601 time`);
        else if (ms > Date.now() + FUTURE_SKEW_MS) errors.add(field, `${field}: cannot be in the future`);
        else return new Date(ms);
        return null;
      };
      return db.transaction().execute(async (trx) => {
        const userExists = async (id: number, field: string, agent = false) => {
          const user = await findUser(trx, actor.accountId, id);
          if (!user) errors.add(field, `User: ${id} not found`, 'NotFound');
          else if (agent && user.role === 'end-user') errors.add(field, 'Assignee: must be an agent of this account');
        };
        const requesterId = input.requester_id ?? actor.userId;
        if (input.requester_id !== undefined) await userExists(input.requester_id, 'requester_id');
        const submitterId = input.submitter_id ?? requesterId;
        if (input.submitter_id !== undefined) await userExists(input.submitter_id, 'submitter_id');
        const assigneeId = input.assignee_id ?? null;
        if (assigneeId !== null) await userExists(assigneeId, 'assignee_id', true);
        const groupId = input.group_id ?? null;
        if (groupId !== null && !(await findGroup(trx, actor.accountId, groupId))) errors.add('group_id', 'Group: not found', 'NotFound');

        const comments: Array<{ author_id: number; body: string; html_body: string; public: boolean; created_at: Date | null }> = [];
        let previous: Date | null = null;
        for (const [i, c] of input.comments.entries()) {
          const field = `comments[${i}]`;
          const plain = commentBodies({ body: c.value ?? c.body, html_body: c.html_body });
          // Both given (an export): the HTML as it was, sanitised, beside its text.
          const bodies = plain && c.html_body?.trim() && (c.value ?? c.body)?.trim() ? { body: plain.body, html: sanitizeClientHtml(c.html_body) } : plain;
          if (!bodies) errors.add(`${field}.body`, 'Comment: body cannot be blank');
          const authorId = c.author_id ?? requesterId;
          if (c.author_id !== undefined) await userExists(c.author_id, `${field}.author_id`);
          const at = time(c.created_at, `${field}.created_at`);
          if (at && previous && at < previous) errors.add(`${field}.created_at`, 'Created at: comments must be in time order');
          if (at) previous = at;
          comments.push({ author_id: authorId, body: bodies?.body ?? '', html_body: bodies?.html ?? '', public: c.public ?? true, created_at: at });
        }
        const firstCommentAt = comments[0]!.created_at;
        const createdAt = time(input.created_at, 'created_at') ?? firstCommentAt ?? new Date();
        const updatedAt = time(input.updated_at, 'updated_at') ?? previous ?? createdAt;
        const solvedAt = time(input.solved_at, 'solved_at');
        if (updatedAt < createdAt) errors.add('updated_at', 'Updated at: is before created_at');
        if (firstCommentAt && firstCommentAt < createdAt) errors.add('comments[0].created_at', 'Created at: a comment cannot be older than its ticket');
        errors.throwIfAny();

        const status: TicketStatus = (input.status as TicketStatus | undefined) ?? (solvedAt ? 'solved' : assigneeId !== null ? 'open' : 'new');
        const viaChannel = input.via?.channel ?? 'api';
        const id = await nextTicketId(trx, actor.accountId);
        const ticket = await insertTicket(trx, {
          account_id: actor.accountId,
          id,
          subject: input.subject?.trim() || comments[0]!.body.replace(/\s+/g, ' ').slice(0, 80),
          description: input.description?.trim() || comments[0]!.body,
          status,
          priority: input.priority ?? null,
          requester_id: requesterId,
          submitter_id: submitterId,
          assignee_id: assigneeId,
          group_id: groupId,
          parent_side_conversation_id: null,
          via_channel: viaChannel,
          created_at: createdAt,
          updated_at: updatedAt,
          solved_at: solvedAt,
        });
        await insertImportedComments(
          trx,
          comments.map((c) => ({ account_id: actor.accountId, ticket_id: id, author_id: c.author_id, body: c.body, html_body: c.html_body, public: c.public, via_channel: viaChannel, created_at: c.created_at ?? createdAt })),
        );
        if (options.checkpoint) await recordCheckpoint(trx, actor.accountId, options.checkpoint, String(id));
        return ticket;
      });
    },
  };
}

export type TicketImports = ReturnType<typeof createTicketImports>;
