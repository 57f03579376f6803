import type { Kysely } from 'kysely';
import type { Database, OutboxRow } from '../../db/types.js';
import type { SecretBox } from '../../integrations/secret-box.js';
import type { Channel, DeliveryOutcome } from '../../outbox/relay.js';
import { OutboundAddressRefused } from '../../net/outbound-guard.js';
import { ConnectorError, TeamsConnector } from './connector.js';

export function classifyConnectorError(error: unknown): DeliveryOutcome {
  // A refused address stays refused: retrying would only knock again.
  if (error instanceof OutboundAddressRefused) return { kind: 'failed', reason: error.message };
  if (error instanceof ConnectorError) {
    if (error.status === 429 || error.status >= 500) {
      return { kind: 'retry', reason: error.message, ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}) };
    }
    return { kind: 'failed', reason: error.message };
  }
  return { kind: 'retry', reason: error instanceof Error ? error.message : String(error) };
}

/** Markdown-ish text for Teams; the connector renders it, so markup characters are escaped. */
function teamsText(text: string): string {
  return text.replace(/[\\`*_{}[\]<>]/g, (c) => `\\${c}`);
}

/**
 * Posts into Microsoft Teams: the first message starts a thread in the channel, replies answer
 * its first activity. The connector has no idempotency key: a crash between its answer and our
 * record can post a message twice (at-least-once), which README states.
 */
export function createTeamsChannel(deps: { db: Kysely<Database>; box: SecretBox | null; connector: TeamsConnector }): Channel {
  const { db, box, connector } = deps;
  return {
    async deliver(row: OutboxRow): Promise<DeliveryOutcome> {
      const event = await db.selectFrom('side_conversation_events').selectAll().where('id', '=', row.event_id).executeTakeFirst();
      const sc = await db.selectFrom('side_conversations').selectAll().where('id', '=', row.side_conversation_id).executeTakeFirst();
      if (!event?.message || !sc) return { kind: 'failed', reason: 'the message no longer exists' };
      const bot = await db.selectFrom('teams_bots').selectAll().where('account_id', '=', row.account_id).executeTakeFirst();
      if (!bot || !box) return { kind: 'failed', reason: 'Microsoft Teams is not connected' };
      const participant = await db
        .selectFrom('side_conversation_participants')
        .select('msteams_channel_id')
        .where('side_conversation_id', '=', sc.id)
        .where('msteams_channel_id', 'is not', null)
        .executeTakeFirst();
      if (!participant?.msteams_channel_id) return { kind: 'failed', reason: 'no Teams channel on this side conversation' };
      const credentials = { serviceUrl: bot.service_url, appId: bot.app_id, appPassword: box.open(bot.app_password_enc), tenantId: bot.tenant_id };
      const author = event.actor_name ?? 'Support';
      const recipient = `msteams:${participant.msteams_channel_id}`;
      try {
        if (event.type === 'create') {
          const started = await connector.startThread(credentials, participant.msteams_channel_id, `**${teamsText(sc.subject)}**\n\n${teamsText(event.message.body)}\n\n_${teamsText(author)}_`);
          const activityId = started.activityId ?? started.id.split(';messageid=')[1] ?? started.id;
          await db
            .updateTable('side_conversations')
            .set({ thread_ref: started.id, thread_reply_to: activityId })
            .where('id', '=', sc.id)
            .where('thread_ref', 'is', null)
            .execute();
        } else {
          if (!sc.thread_ref || !sc.thread_reply_to) return { kind: 'retry', reason: 'the thread has not been started in Teams yet' };
          await connector.reply(credentials, sc.thread_ref, sc.thread_reply_to, `**${teamsText(author)}**: ${teamsText(event.message.body)}`);
        }
        return { kind: 'delivered', recipients: [{ recipient, status: 'sent' }] };
      } catch (error) {
        return classifyConnectorError(error);
      }
    },
  };
}
