import type { Kysely } from 'kysely';
import type { Database, EventVia, ParticipantRecord } from '../../db/types.js';
import type { SideConversationCommands } from '../../side-conversations/commands.js';

export type InboundChatOutcome = 'recorded' | 'duplicate' | 'ignored';

/** Text from a chat platform, made storable: no NUL, no broken surrogates, at most 64 KiB. */
export function storableChatText(text: string): string {
  return text.replace(/\u0000/g, '').toWellFormed().trim().slice(0, 65_536);
}

/**
 * Records a message from a chat thread (Slack, Teams) as a reply on its side conversation. The
 * platform's event id is the dedupe key, remembered in the same transaction, so a redelivered
 * event is a no-op and a failed one can be redelivered.
 */
export async function recordInboundChatReply(
  db: Kysely<Database>,
  commands: SideConversationCommands,
  input: { source: string; eventId: string; accountId: number; sideConversationId: string; via: EventVia; actor: ParticipantRecord; text: string },
): Promise<InboundChatOutcome> {
  const recorded = await db.transaction().execute((trx) =>
    commands.addMessage(trx, {
      accountId: input.accountId,
      conversation: { id: input.sideConversationId },
      via: input.via,
      sender: input.actor,
      message: { body: input.text },
      dedupe: { source: input.source, key: input.eventId },
    }),
  );
  return recorded ? 'recorded' : 'duplicate';
}
