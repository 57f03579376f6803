import type { Executor } from '../../db/executor.js';
import type { Ticket, TicketStatus } from '../../db/types.js';
import { findUser } from '../../users/repo.js';
import { previewText } from '../../text/html.js';
import { findSideConversationByIdForUpdate, participantsOf } from '../../side-conversations/repo.js';
import { recordReply, recordUpdate } from '../../side-conversations/thread.js';

const DONE: ReadonlySet<TicketStatus> = new Set(['solved', 'closed']);

/**
 * What happens on a child ticket shows on its parent's side conversation: a comment becomes a
 * reply (via "child_ticket"), solving or closing closes the conversation, reopening reopens it.
 * Comments that came from the side conversation itself are written straight to the child ticket
 * (via "side_conversation") and never pass through here, so nothing is echoed back.
 */
export async function mirrorChildTicketUpdate(
  trx: Executor,
  input: { accountId: number; before: Ticket; after: Ticket; authorId: number; comment: { body: string; html: string } | null },
): Promise<void> {
  const { accountId, before, after } = input;
  if (!before.parent_side_conversation_id) return;
  let sc = await findSideConversationByIdForUpdate(trx, accountId, before.parent_side_conversation_id);
  if (!sc) return;
  const author = await findUser(trx, accountId, input.authorId);
  const actor = { user_id: author?.id ?? null, name: author?.name ?? null, email: author?.email ?? null };

  if (input.comment) {
    const participants = (await participantsOf(trx, accountId, [sc.id])).get(sc.id) ?? [];
    const to = participants
      .filter((p) => !p.support_group_id && p.user_id !== actor.user_id)
      .map((p) => ({ user_id: p.user_id, name: p.name, email: p.email }));
    const result = await recordReply(trx, {
      accountId,
      sc,
      via: 'child_ticket',
      actor,
      message: {
        subject: null,
        body: input.comment.body,
        htmlBody: input.comment.html,
        preview: previewText(input.comment.body),
        from: actor,
        to,
        externalIds: {},
        attachmentIds: [],
      },
    });
    sc = result.sideConversation;
  }

  const wasDone = DONE.has(before.status);
  const isDone = DONE.has(after.status);
  if (!wasDone && isDone && sc.state === 'open') {
    await recordUpdate(trx, { accountId, sc, via: 'child_ticket', actor, updates: { state: 'closed' } });
  } else if (wasDone && !isDone && sc.state === 'closed') {
    await recordUpdate(trx, { accountId, sc, via: 'child_ticket', actor, updates: { state: 'open' } });
  }
}
