import type { Executor } from '../db/executor.js';
import type { SideConversationChannel } from '../db/types.js';

/** Channels whose messages leave the system and so need the relay; child tickets are written in place. */
export const OUTBOUND_CHANNELS: ReadonlySet<SideConversationChannel> = new Set(['email', 'slack', 'msteams']);

/**
 * Records, inside the writer's transaction, that an event must reach the outside world. The relay
 * delivers it later; if the transaction rolls back, nothing is ever sent.
 */
export async function emitOutbox(
  trx: Executor,
  row: { accountId: number; channel: SideConversationChannel; sideConversationId: string; eventId: string },
): Promise<void> {
  if (!OUTBOUND_CHANNELS.has(row.channel)) return;
  await trx
    .insertInto('outbox')
    .values({
      account_id: row.accountId,
      channel: row.channel,
      side_conversation_id: row.sideConversationId,
      event_id: row.eventId,
      last_error: null,
      delivered_at: null,
    })
    .execute();
}
