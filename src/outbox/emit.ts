import type { RawBuilder } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { OneStatement } from '../db/one-statement.js';
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

/** The columns of a delivery that are timestamps (a OneStatement part gives them back as text). */
const DELIVERY_TIMESTAMPS = ['updated_at'] as const;

/**
 * Records, inside the writer's transaction, that an event must reach the outside world, with one
 * queued delivery per recipient: two parts of the writer's statement (the deliveries read the
 * outbox row's id from the first). The relay delivers it later; if the transaction rolls back,
 * nothing is ever sent. Once the statement has run, the returned function gives the queued
 * deliveries (the event's `message.deliveries`).
 */
export function queueOutbox(
  statement: OneStatement,
  db: Executor,
  row: { accountId: number; channel: SideConversationChannel; sideConversationId: string; eventId: string; recipients: ParticipantRecord[] },
): () => Delivery[] {
  if (!isOutbound(row.channel)) return () => [];
  const outbox = statement.add(
    db
      .insertInto('outbox')
      .values({
        account_id: row.accountId,
        channel: row.channel,
        side_conversation_id: row.sideConversationId,
        event_id: row.eventId,
        last_error: null,
      })
      .returning('id'),
    { returns: false },
  );
  const keys = [...new Set(row.recipients.map(recipientKey).filter((k): k is string => k !== null))];
  if (keys.length === 0) return () => [];
  const outboxId = outbox.column('id') as RawBuilder<number>;
  const deliveries = statement.add(
    db
      .insertInto('deliveries')
      .values(keys.map((recipient) => ({ account_id: row.accountId, outbox_id: outboxId, event_id: row.eventId, recipient, status: 'queued' as const, reason: null })))
      .returningAll(),
    { timestamps: DELIVERY_TIMESTAMPS },
  );
  return () => [...deliveries.rows()].sort((a, b) => a.id - b.id);
}
