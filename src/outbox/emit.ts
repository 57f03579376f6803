import type { Executor } from '../db/executor.js';
import type { Delivery, OutboxChannel, ParticipantRecord, SideConversationChannel } from '../db/types.js';

/** Channels whose messages leave the system and so need the relay; child tickets are written in place. */
export const OUTBOUND_CHANNELS: ReadonlySet<SideConversationChannel> = new Set(['email', 'slack', 'msteams']);

function isOutbound(channel: SideConversationChannel): channel is SideConversationChannel & OutboxChannel {
  return OUTBOUND_CHANNELS.has(channel);
}

/** How a recipient is named in delivery records: an address, or the channel it is posted to. */
export function recipientKey(p: ParticipantRecord): string | null {
  if (p.email) return p.email.toLowerCase();
  if (p.slack_workspace_id && p.slack_channel_id) return `slack:${p.slack_workspace_id}/${p.slack_channel_id}`;
  if (p.msteams_channel_id) return `msteams:${p.msteams_channel_id}`;
  return null;
}

/**
 * Records, inside the writer's transaction, that an event must reach the outside world, with one
 * queued delivery per recipient. The relay delivers it later; if the transaction rolls back,
 * nothing is ever sent. Returns the queued deliveries (the event's `message.deliveries`).
 */
export async function emitOutbox(
  trx: Executor,
  row: { accountId: number; channel: SideConversationChannel; sideConversationId: string; eventId: string; recipients: ParticipantRecord[] },
): Promise<Delivery[]> {
  if (!isOutbound(row.channel)) return [];
  const outbox = await trx
    .insertInto('outbox')
    .values({
      account_id: row.accountId,
      channel: row.channel,
      side_conversation_id: row.sideConversationId,
      event_id: row.eventId,
      last_error: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const keys = [...new Set(row.recipients.map(recipientKey).filter((k): k is string => k !== null))];
  if (keys.length === 0) return [];
  const deliveries = await trx
    .insertInto('deliveries')
    .values(keys.map((recipient) => ({ account_id: row.accountId, outbox_id: outbox.id, event_id: row.eventId, recipient, status: 'queued' as const, reason: null })))
    .returningAll()
    .execute();
  return deliveries.sort((a, b) => a.id - b.id);
}
