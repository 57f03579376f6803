import type { TicketStatus } from '../../db/types.js';
import { ValidationErrors } from '../../errors.js';
import { findUser } from '../../users/repo.js';
import type { SideConversationCommands } from '../../side-conversations/commands.js';
import type { ChannelHooks } from '../../side-conversations/hooks.js';
import { findSideConversationByIdForUpdate } from '../../side-conversations/repo.js';
import { findTicketForUpdate, insertComment, updateTicket } from '../../tickets/repo.js';
import { createTicketIn, type TicketUpdatedHook } from '../../tickets/service.js';

const DONE: ReadonlySet<TicketStatus> = new Set(['solved', 'closed']);

/**
 * A child ticket side conversation's other end is a ticket of this help desk: its first message
 * opens the ticket, and each reply is a comment on it, written in the same transaction and marked
 * (via "side_conversation") so it is not echoed back.
 */
export const childTicketHooks: ChannelHooks = {
  async beforeStart(trx, start) {
    const child = await createTicketIn(
      trx,
      { accountId: start.accountId, userId: start.actor.user_id! },
      {
        subject: start.subject,
        comment: { body: start.body, html_body: start.htmlBody },
        group_id: start.target.support_group_id ?? null,
        assignee_id: start.target.support_agent_id ?? null,
        via_channel: 'side_conversation',
        parent_side_conversation_id: start.sideConversationId,
      },
    );
    return { targetTicketId: String(child.id) };
  },

  async onOutboundMessage(trx, message) {
    if (message.event.type !== 'reply') return;
    const { accountId, sideConversation: sc } = message;
    const errors = new ValidationErrors();
    const childId = Number(sc.external_ids['targetTicketId']);
    const child = Number.isSafeInteger(childId) ? await findTicketForUpdate(trx, accountId, childId) : undefined;
    if (!child) {
      errors.add('base', 'The child ticket of this side conversation no longer exists');
    } else if (child.status === 'closed') {
      errors.add('base', `The child ticket ${child.id} is closed and takes no more comments`);
    }
    errors.throwIfAny();
    await insertComment(trx, {
      account_id: accountId,
      ticket_id: childId,
      author_id: message.actor.user_id!,
      body: message.body,
      html_body: message.htmlBody,
      public: true,
      via_channel: 'side_conversation',
    });
    await updateTicket(trx, accountId, childId, { updated_at: new Date() });
  },
};

/**
 * What happens on a child ticket shows on its parent's side conversation: a comment becomes a
 * reply (via "child_ticket"), solving or closing closes the conversation, reopening reopens it.
 * Comments that came from the side conversation itself are written straight to the child ticket
 * (via "side_conversation") and never pass through here, so nothing is echoed back.
 */
export function mirrorChildTicketUpdates(commands: SideConversationCommands): TicketUpdatedHook {
  return async (trx, input) => {
    const { accountId, before, after } = input;
    if (!before.parent_side_conversation_id) return;
    // Locked here rather than by the commands: a conversation gone (deleted) leaves the ticket's update alone.
    let sc = await findSideConversationByIdForUpdate(trx, accountId, before.parent_side_conversation_id);
    if (!sc) return;
    const author = await findUser(trx, accountId, input.authorId);
    const sender = { user_id: author?.id ?? null, name: author?.name ?? null, email: author?.email ?? null };
    const common = { accountId, via: 'child_ticket' as const, sender };

    if (input.comment) {
      const message = input.comment.writtenAs === 'html' ? { html_body: input.comment.html } : { body: input.comment.body };
      sc = (await commands.addMessage(trx, { ...common, conversation: { held: sc }, message })).sideConversation;
    }

    const wasDone = DONE.has(before.status);
    const isDone = DONE.has(after.status);
    if (wasDone !== isDone) await commands.changeState(trx, { ...common, conversation: { held: sc }, state: isDone ? 'closed' : 'open' });
  };
}
