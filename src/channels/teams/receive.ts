import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Kysely } from 'kysely';
import type { Database, TeamsBot } from '../../db/types.js';
import type { SideConversationCommands } from '../../side-conversations/commands.js';
import { htmlToText } from '../../text/html.js';
import { recordInboundChatReply, storableChatText, type InboundChatOutcome } from '../chat/inbound-reply.js';

export interface TeamsAuthOptions {
  /** Bot Framework's OpenID metadata (its jwks_uri names the signing keys). */
  openIdMetadataUrl: string;
  issuer: string;
}

/**
 * Checks the Bot Framework JWT on an incoming activity: signature against the keys published in
 * the OpenID metadata, issuer, audience (one of our bots' app ids) and expiry. Keys are fetched
 * once and refreshed by jose when an unknown key id appears.
 */
export class TeamsTokenVerifier {
  #keys: JWTVerifyGetKey | null = null;
  #keysFetchedAt = 0;

  constructor(private readonly options: TeamsAuthOptions) {}

  async #jwks(): Promise<JWTVerifyGetKey> {
    if (this.#keys && Date.now() - this.#keysFetchedAt < 24 * 3600_000) return this.#keys;
    const response = await fetch(this.options.openIdMetadataUrl, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`OpenID metadata answered HTTP ${response.status}`);
    const metadata = (await response.json()) as { jwks_uri?: string };
    if (!metadata.jwks_uri) throw new Error('OpenID metadata without jwks_uri');
    this.#keys = createRemoteJWKSet(new URL(metadata.jwks_uri));
    this.#keysFetchedAt = Date.now();
    return this.#keys;
  }

  /**
   * The bot the token was issued for, or null for a missing, forged, expired or foreign token, or
   * one whose `serviceurl` claim is not the activity's `serviceUrl` (as Bot Framework's own channel
   * validation requires: a token minted for one connector must not vouch for an activity that
   * names another). The activity is read only once the token's signature holds (`activityServiceUrl`
   * parses the body), so a stranger's JSON is never parsed; a body that does not parse throws.
   */
  async verify(db: Kysely<Database>, authorization: string | undefined, activityServiceUrl: () => unknown): Promise<TeamsBot | null> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) return null;
    const bots = await db.selectFrom('teams_bots').selectAll().limit(1000).execute();
    if (bots.length === 0) return null;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1]!, await this.#jwks(), {
        issuer: this.options.issuer,
        audience: bots.map((b) => b.app_id),
        clockTolerance: 300,
        requiredClaims: ['exp'],
      }));
    } catch {
      return null;
    }
    const serviceUrl = activityServiceUrl();
    if (typeof serviceUrl !== 'string' || payload['serviceurl'] !== serviceUrl) return null;
    const audiences = [payload.aud].flat();
    return bots.find((b) => audiences.includes(b.app_id)) ?? null;
  }
}

export interface TeamsActivity {
  type?: string;
  id?: string;
  text?: string;
  serviceUrl?: string;
  conversation?: { id?: string };
  from?: { id?: string; name?: string };
  recipient?: { id?: string; name?: string };
  entities?: unknown;
  replyToId?: string;
}

interface MentionEntity {
  type: 'mention';
  mentioned: { id: string };
  text: string;
}

function isRecipientMention(entity: unknown, recipientId: string): entity is MentionEntity {
  if (!entity || typeof entity !== 'object') return false;
  const e = entity as { type?: unknown; mentioned?: { id?: unknown }; text?: unknown };
  return e.type === 'mention' && e.mentioned?.id === recipientId && typeof e.text === 'string' && e.text.length > 0;
}

/**
 * Teams puts the bot's own mention (`<at>Bot</at>`) first in every channel message addressed to
 * it. Like the Bot Framework SDKs' removeRecipientMention, the text of each mention entity naming
 * the activity's recipient is cut out; mentions of anyone else stay as they are.
 */
export function removeRecipientMention(activity: TeamsActivity): string {
  let text = typeof activity.text === 'string' ? activity.text : '';
  const recipientId = activity.recipient?.id;
  if (typeof recipientId !== 'string' || !Array.isArray(activity.entities)) return text;
  for (const entity of activity.entities.slice(0, 100)) {
    if (isRecipientMention(entity, recipientId)) text = text.replace(entity.text, '');
  }
  return text.trim();
}

export type TeamsOutcome = InboundChatOutcome;

/** A message in the thread of a Teams side conversation becomes a reply (via "msteams"). */
export async function receiveTeamsActivity(
  db: Kysely<Database>,
  commands: SideConversationCommands,
  bot: TeamsBot,
  activity: TeamsActivity,
): Promise<TeamsOutcome> {
  if (activity.type !== 'message' || typeof activity.conversation?.id !== 'string' || typeof activity.id !== 'string') return 'ignored';
  if (activity.id.length > 500 || activity.conversation.id.length > 1000) return 'ignored';
  if (activity.from?.id === `28:${bot.app_id}`) return 'ignored';
  const text = storableChatText(htmlToText(removeRecipientMention(activity)));
  if (!text) return 'ignored';
  const sc = await db
    .selectFrom('side_conversations')
    .selectAll()
    .where('account_id', '=', bot.account_id)
    .where('channel', '=', 'msteams')
    .where('thread_ref', '=', activity.conversation.id)
    .executeTakeFirst();
  if (!sc) return 'ignored';
  const name = (typeof activity.from?.name === 'string' ? activity.from.name : '').toWellFormed().replace(/[\u0000-\u001f]/g, ' ').trim().slice(0, 255) || null;
  const actor = { user_id: null, name, email: null };
  return recordInboundChatReply(db, commands, {
    source: `msteams:${bot.app_id}`,
    eventId: activity.id,
    accountId: bot.account_id,
    sideConversationId: sc.id,
    via: 'msteams',
    actor,
    text,
  });
}
