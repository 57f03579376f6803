import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, ParticipantRecord, SlackWorkspace } from '../../db/types.js';
import type { SecretBox } from '../../integrations/secret-box.js';
import type { SideConversationCommands } from '../../side-conversations/commands.js';
import { findUserByEmail } from '../../users/repo.js';
import { recordInboundChatReply, storableChatText, type InboundChatOutcome } from '../chat/inbound-reply.js';
import { slackClient } from './client.js';

export const SLACK_SIGNATURE_MAX_AGE_SECONDS = 300;

/** Slack's v0 signature: HMAC-SHA256 of `v0:timestamp:body`, compared in constant time. */
export function verifySlackSignature(secret: string, timestamp: string, rawBody: string, signature: string, nowSeconds: number): boolean {
  if (!/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > SLACK_SIGNATURE_MAX_AGE_SECONDS) return false;
  const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface SlackEventEnvelope {
  type?: string;
  challenge?: string;
  team_id?: string;
  event_id?: string;
  event?: {
    type?: string;
    subtype?: string;
    channel?: string;
    user?: string;
    bot_id?: string;
    text?: string;
    ts?: string;
    thread_ts?: string;
  };
}

export interface SlackInboundDeps {
  db: Kysely<Database>;
  box: SecretBox | null;
  apiUrl: string;
  commands: SideConversationCommands;
}

/** The workspace whose signing secret signed this request, or null. */
/**
 * The workspace whose signing secret signed these exact bytes, or null. Runs before the body is
 * parsed: the timestamp is checked first (no work for stale requests), the workspace is named by
 * the first "team_id" in the raw text (a wrong pick only fails the signature), and a body naming
 * none (url_verification, always tiny) is tried against every workspace only when small.
 */
export async function authenticSlackWorkspace(deps: SlackInboundDeps, raw: string, timestamp: string, signature: string): Promise<SlackWorkspace | null> {
  if (!deps.box) return null;
  const now = Math.floor(Date.now() / 1000);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now - Number(timestamp)) > SLACK_SIGNATURE_MAX_AGE_SECONDS) return null;
  if (!/^v0=[0-9a-f]{64}$/.test(signature)) return null;
  let query = deps.db.selectFrom('slack_workspaces').selectAll().orderBy('id').limit(100);
  const teamId = /"team_id"\s*:\s*"([A-Za-z0-9]{1,32})"/.exec(raw)?.[1];
  if (teamId) query = query.where('team_id', '=', teamId);
  else if (raw.length > 4096) return null;
  for (const workspace of await query.execute()) {
    if (verifySlackSignature(deps.box.open(workspace.signing_secret_enc), timestamp, raw, signature, now)) return workspace;
  }
  return null;
}

async function slackAuthor(deps: SlackInboundDeps, workspace: SlackWorkspace, userId: string, accountId: number): Promise<ParticipantRecord> {
  let name: string | null = null;
  let email: string | null = null;
  try {
    const info = await slackClient(deps.box!.open(workspace.bot_token_enc), deps.apiUrl).users.info({ user: userId });
    const profile = info.user?.profile;
    name = profile?.real_name || profile?.display_name || info.user?.real_name || info.user?.name || null;
    email = profile?.email ?? null;
  } catch {
    // Without the profile the reply still lands, named by its Slack user id.
  }
  const known = email ? await findUserByEmail(deps.db, accountId, email) : undefined;
  if (known) return { user_id: known.id, name: known.name, email: known.email };
  return { user_id: null, name: name ?? userId, email };
}

export type SlackEventOutcome = InboundChatOutcome;

/**
 * A message in the thread of a Slack side conversation becomes a reply (via "slack"). Our own bot's
 * posts, edits and other subtypes, and messages outside known threads are ignored; Slack's retries
 * are dropped by event_id, in the same transaction as the reply.
 */
export async function receiveSlackEvent(deps: SlackInboundDeps, workspace: SlackWorkspace, envelope: SlackEventEnvelope): Promise<SlackEventOutcome> {
  const event = envelope.event;
  if (envelope.type !== 'event_callback' || !event || event.type !== 'message') return 'ignored';
  if (event.bot_id || (event.subtype && event.subtype !== 'file_share' && event.subtype !== 'thread_broadcast')) return 'ignored';
  const strings = [event.user, event.channel, event.thread_ts, event.ts, event.text];
  if (!strings.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 100_000)) return 'ignored';
  if (event.thread_ts === event.ts || !event.text!.trim()) return 'ignored';
  if (workspace.bot_user_id && event.user === workspace.bot_user_id) return 'ignored';

  const sc = await deps.db
    .selectFrom('side_conversations')
    .innerJoin('side_conversation_participants as p', 'p.side_conversation_id', 'side_conversations.id')
    .selectAll('side_conversations')
    .where('side_conversations.account_id', '=', workspace.account_id)
    .where('side_conversations.channel', '=', 'slack')
    .where('side_conversations.thread_ref', '=', event.thread_ts!)
    .where('p.slack_workspace_id', '=', workspace.team_id)
    .where('p.slack_channel_id', '=', event.channel!)
    .executeTakeFirst();
  if (!sc) return 'ignored';

  const actor = await slackAuthor(deps, workspace, event.user!, workspace.account_id);
  return recordInboundChatReply(deps.db, deps.commands, {
    source: `slack:${workspace.team_id}`,
    eventId: envelope.event_id ?? `${event.channel}:${event.ts}`,
    accountId: workspace.account_id,
    sideConversationId: sc.id,
    via: 'slack',
    actor,
    text: storableChatText(event.text!),
  });
}
