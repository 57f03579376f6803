import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError } from '@slack/web-api';
import type { Kysely } from 'kysely';
import { markAttachmentRelayed, unrelayedAttachmentsOfEvent } from '../../attachments/repo.js';
import type { BlobStore } from '../../attachments/storage.js';
import type { Database, OutboxRow } from '../../db/types.js';
import type { SecretBox } from '../../integrations/secret-box.js';
import { findSlackWorkspace } from '../../integrations/service.js';
import type { Channel, DeliveryOutcome } from '../../outbox/relay.js';
import { recipientKey } from '../../outbox/emit.js';
import { findChannelParticipant, findEventToDeliver, recordThreadStart } from '../../side-conversations/repo.js';
import { escapeMrkdwn, slackClient } from './client.js';

/** Slack errors worth another try; every other `error` code (channel_not_found, not_in_channel, invalid_auth…) is final. */
const TEMPORARY_SLACK_ERRORS = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

export function classifySlackError(error: unknown): DeliveryOutcome {
  if (error instanceof WebAPIRateLimitedError) return { kind: 'retry', reason: 'ratelimited', retryAfterMs: error.retryAfter * 1000 };
  if (error instanceof WebAPIPlatformError) {
    const code = String(error.data.error);
    return TEMPORARY_SLACK_ERRORS.has(code) ? { kind: 'retry', reason: code } : { kind: 'failed', reason: code };
  }
  if (error instanceof WebAPIHTTPError) {
    return error.statusCode >= 500 || error.statusCode === 429 ? { kind: 'retry', reason: `HTTP ${error.statusCode}` } : { kind: 'failed', reason: `HTTP ${error.statusCode}` };
  }
  if (error instanceof WebAPIRequestError) return { kind: 'retry', reason: error.original.message };
  return { kind: 'retry', reason: error instanceof Error ? error.message : String(error) };
}

const METADATA_TYPE = 'sideline_message';

interface SlackMessage {
  ts?: string;
  metadata?: { event_type?: string; event_payload?: { event_id?: string } };
}

/**
 * Posts side conversation messages into Slack: the first starts a thread (chat.postMessage), the
 * rest go into it (thread_ts), files are uploaded to the thread. Each post carries the event id as
 * message metadata; a retried row first looks for its own post, so a crash between Slack's answer
 * and our record does not post twice.
 */
export function createSlackChannel(deps: { db: Kysely<Database>; blobs: BlobStore; box: SecretBox | null; apiUrl: string }): Channel {
  const { db, blobs, box, apiUrl } = deps;
  return {
    async deliver(row: OutboxRow): Promise<DeliveryOutcome> {
      const found = await findEventToDeliver(db, row.account_id, row.event_id, row.side_conversation_id);
      if (!found?.event.message) return { kind: 'failed', reason: 'the message no longer exists' };
      const { event, sideConversation: sc } = found;
      const eventMessage = found.event.message;
      const target = eventMessage.to.find((p) => p.slack_workspace_id && p.slack_channel_id) ?? (await findChannelParticipant(db, row.account_id, sc.id, 'slack_channel_id'));
      if (!target?.slack_workspace_id || !target.slack_channel_id) return { kind: 'failed', reason: 'no Slack channel on this side conversation' };
      const workspace = await findSlackWorkspace(db, row.account_id, target.slack_workspace_id);
      if (!workspace || !box) return { kind: 'failed', reason: `Slack workspace ${target.slack_workspace_id} is not connected` };
      const isStart = event.type === 'create';
      if (!isStart && !sc.thread_ref) return { kind: 'retry', reason: 'the thread has not been started in Slack yet' };

      const client = slackClient(box.open(workspace.bot_token_enc), apiUrl);
      const channel = target.slack_channel_id;
      const recipient = recipientKey({ user_id: null, name: null, email: null, slack_workspace_id: target.slack_workspace_id, slack_channel_id: channel })!;
      try {
        let ts: string | undefined;
        if (row.attempts > 1) {
          // A retry: find our own earlier post of this event, if Slack took it.
          const history = isStart
            ? await client.conversations.history({ channel, limit: 100, include_all_metadata: true })
            : await client.conversations.replies({ channel, ts: sc.thread_ref!, limit: 200, include_all_metadata: true });
          const mine = ((history.messages ?? []) as SlackMessage[]).find(
            (m) => m.metadata?.event_type === METADATA_TYPE && m.metadata.event_payload?.event_id === event.id,
          );
          ts = mine?.ts;
        }
        if (!ts) {
          const author = escapeMrkdwn(event.actor_name ?? 'Support');
          const text = isStart
            ? `*${escapeMrkdwn(sc.subject)}*\n${escapeMrkdwn(eventMessage.body)}\n_${author}_`
            : `*${author}*: ${escapeMrkdwn(eventMessage.body)}`;
          const posted = await client.chat.postMessage({
            channel,
            text,
            ...(isStart ? {} : { thread_ts: sc.thread_ref! }),
            unfurl_links: false,
            metadata: { event_type: METADATA_TYPE, event_payload: { event_id: event.id, side_conversation_id: sc.id } },
          });
          ts = posted.ts;
        }
        if (isStart && ts) {
          await recordThreadStart(db, row.account_id, sc.id, { thread_ref: ts });
        }
        // Files not yet shared (a retry skips those an earlier attempt already put in the thread).
        const files = await unrelayedAttachmentsOfEvent(db, row.account_id, event.id);
        for (const file of files) {
          const bytes = await blobs.get(file.storage_key);
          if (!bytes) continue;
          await client.filesUploadV2({ channel_id: channel, thread_ts: isStart ? ts! : sc.thread_ref!, file: bytes, filename: file.file_name });
          await markAttachmentRelayed(db, row.account_id, file.id);
        }
        return { kind: 'delivered', recipients: [{ recipient, status: 'sent' }] };
      } catch (error) {
        return classifySlackError(error);
      }
    },
  };
}
