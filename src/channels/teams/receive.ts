import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Kysely } from 'kysely';
import type { Database, TeamsBot } from '../../db/types.js';
import { htmlToText, plainTextToHtml, previewText } from '../../text/html.js';
import { participantsOf } from '../../side-conversations/repo.js';
import { recordReply } from '../../side-conversations/thread.js';

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

export type TeamsOutcome = 'recorded' | 'duplicate' | 'ignored';

/** A message in the thread of a Teams side conversation becomes a reply (via "msteams"). */
export async function receiveTeamsActivity(db: Kysely<Database>, bot: TeamsBot, activity: TeamsActivity): Promise<TeamsOutcome> {
  if (activity.type !== 'message' || !activity.conversation?.id || !activity.id) return 'ignored';
  if (activity.from?.id === `28:${bot.app_id}`) return 'ignored';
  const text = htmlToText(activity.text ?? '').replace(/\u0000/g, '').toWellFormed().trim().slice(0, 65_536);
  if (!text) return 'ignored';
  const sc = await db
    .selectFrom('side_conversations')
    .selectAll()
    .where('account_id', '=', bot.account_id)
    .where('channel', '=', 'msteams')
    .where('thread_ref', '=', activity.conversation.id)
    .executeTakeFirst();
  if (!sc) return 'ignored';
  const name = (activity.from?.name ?? '').replace(/[\u0000-\u001f]/g, ' ').trim().slice(0, 255) || null;
  const actor = { user_id: null, name, email: null };
  return db.transaction().execute(async (trx) => {
    const fresh = await trx
      .insertInto('inbound_events_seen')
      .values({ source: `msteams:${bot.app_id}`, event_id: activity.id! })
      .onConflict((oc) => oc.doNothing())
      .returning('event_id')
      .executeTakeFirst();
    if (!fresh) return 'duplicate';
    const locked = await trx.selectFrom('side_conversations').selectAll().where('id', '=', sc.id).forUpdate().executeTakeFirstOrThrow();
    const participants = (await participantsOf(trx, bot.account_id, [sc.id])).get(sc.id) ?? [];
    const to = participants.filter((p) => p.user_id !== null).map((p) => ({ user_id: p.user_id, name: p.name, email: p.email }));
    await recordReply(trx, {
      accountId: bot.account_id,
      sc: locked,
      via: 'msteams',
      actor,
      message: { subject: null, body: text, htmlBody: plainTextToHtml(text), preview: previewText(text), from: actor, to, externalIds: {}, attachmentIds: [] },
    });
    return 'recorded';
  });
}
