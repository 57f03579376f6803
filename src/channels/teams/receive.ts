import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Kysely } from 'kysely';
import type { Database, TeamsBot } from '../../db/types.js';
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

  /** The bot the token was issued for, or null for a missing, forged, expired or foreign token. */
  async verify(db: Kysely<Database>, authorization: string | undefined): Promise<TeamsBot | null> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) return null;
    const bots = await db.selectFrom('teams_bots').selectAll().limit(1000).execute();
    if (bots.length === 0) return null;
    try {
      const { payload } = await jwtVerify(match[1]!, await this.#jwks(), {
        issuer: this.options.issuer,
        audience: bots.map((b) => b.app_id),
        clockTolerance: 300,
        requiredClaims: ['exp'],
      });
      const audiences = [payload.aud].flat();
      return bots.find((b) => audiences.includes(b.app_id)) ?? null;
    } catch {
      return null;
    }
  }
}

export interface TeamsActivity {
  type?: string;
  id?: string;
  text?: string;
  conversation?: { id?: string };
  from?: { id?: string; name?: string };
  replyToId?: string;
}

export type TeamsOutcome = InboundChatOutcome;

/** A message in the thread of a Teams side conversation becomes a reply (via "msteams"). */
export async function receiveTeamsActivity(db: Kysely<Database>, bot: TeamsBot, activity: TeamsActivity): Promise<TeamsOutcome> {
  if (activity.type !== 'message' || typeof activity.conversation?.id !== 'string' || typeof activity.id !== 'string') return 'ignored';
  if (activity.id.length > 500 || activity.conversation.id.length > 1000) return 'ignored';
  if (activity.from?.id === `28:${bot.app_id}`) return 'ignored';
  const text = storableChatText(htmlToText(typeof activity.text === 'string' ? activity.text : ''));
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
  return recordInboundChatReply(db, {
    source: `msteams:${bot.app_id}`,
    eventId: activity.id,
    accountId: bot.account_id,
    sideConversationId: sc.id,
    via: 'msteams',
    actor,
    text,
  });
}
