import type { Kysely } from 'kysely';
import type { Database, OutboxRow } from '../../db/types.js';
import type { SecretBox } from '../../integrations/secret-box.js';
import { findTeamsBot } from '../../integrations/service.js';
import type { Channel, DeliveryOutcome } from '../../outbox/relay.js';
import { OutboundAddressRefused } from '../../net/outbound-guard.js';
import { findEventToDeliver, findChannelParticipant, recordThreadStart } from '../../side-conversations/repo.js';
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
      const found = await findEventToDeliver(db, row.account_id, row.event_id, row.side_conversation_id);
      if (!found?.event.message) return { kind: 'failed', reason: 'the message no longer exists' };
      const { event, sideConversation: sc } = found;
      const eventMessage = found.event.message;
      const bot = await findTeamsBot(db, row.account_id);
      if (!bot || !box) return { kind: 'failed', reason: 'Microsoft Teams is not connected' };
      const participant = await findChannelParticipant(db, row.account_id, sc.id, 'msteams_channel_id');
      if (!participant?.msteams_channel_id) return { kind: 'failed', reason: 'no Teams channel on this side conversation' };
      const credentials = { serviceUrl: bot.service_url, appId: bot.app_id, appPassword: box.open(bot.app_password_enc), tenantId: bot.tenant_id };
      const author = event.actor_name ?? 'Support';
      const recipient = `msteams:${participant.msteams_channel_id}`;
      try {
        if (event.type === 'create') {
          const started = await connector.startThread(credentials, participant.msteams_channel_id, `**${teamsText(sc.subject)}**\n\n${teamsText(eventMessage.body)}\n\n_${teamsText(author)}_`);
          const activityId = started.activityId ?? started.id.split(';messageid=')[1] ?? started.id;
          await recordThreadStart(db, row.account_id, sc.id, { thread_ref: started.id, thread_reply_to: activityId });
        } else {
          if (!sc.thread_ref || !sc.thread_reply_to) return { kind: 'retry', reason: 'the thread has not been started in Teams yet' };
          await connector.reply(credentials, sc.thread_ref, sc.thread_reply_to, `**${teamsText(author)}**: ${teamsText(eventMessage.body)}`);
        }
        return { kind: 'delivered', recipients: [{ recipient, status: 'sent' }] };
      } catch (error) {
        return classifyConnectorError(error);
      }
    },
  };
}
