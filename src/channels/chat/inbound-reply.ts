import type { Kysely } from 'kysely';
import type { Database, EventVia, ParticipantRecord } from '../../db/types.js';
import { plainTextToHtml, previewText } from '../../text/html.js';
import { participantsOf } from '../../side-conversations/repo.js';
import { recordReply } from '../../side-conversations/thread.js';

export type InboundChatOutcome = 'recorded' | 'duplicate' | 'ignored';

/** Text from a chat platform, made storable: no NUL, no broken surrogates, at most 64 KiB. */
export function storableChatText(text: string): string {
  return text.replace(/\u0000/g, '').toWellFormed().trim().slice(0, 65_536);
}

/**
 * Records a message from a chat thread (Slack, Teams) as a reply on its side conversation. The
 * platform's event id is remembered in the same transaction, so a redelivered event is a no-op
 * and a failed one can be redelivered.
 */
export async function recordInboundChatReply(
  db: Kysely<Database>,
  input: { source: string; eventId: string; accountId: number; sideConversationId: string; via: EventVia; actor: ParticipantRecord; text: string },
): Promise<InboundChatOutcome> {
  const { accountId, actor, text } = input;
  return db.transaction().execute(async (trx) => {
    const fresh = await trx
      .insertInto('inbound_events_seen')
      .values({ source: input.source, event_id: input.eventId })
      .onConflict((oc) => oc.doNothing())
      .returning('event_id')
      .executeTakeFirst();
    if (!fresh) return 'duplicate';
    const sc = await trx.selectFrom('side_conversations').selectAll().where('id', '=', input.sideConversationId).forUpdate().executeTakeFirstOrThrow();
    const participants = (await participantsOf(trx, accountId, [sc.id])).get(sc.id) ?? [];
    const to = participants.filter((p) => p.user_id !== null).map((p) => ({ user_id: p.user_id, name: p.name, email: p.email }));
    await recordReply(trx, {
      accountId,
      sc,
      via: input.via,
      actor,
      message: { subject: null, body: text, htmlBody: plainTextToHtml(text), preview: previewText(text), from: actor, to, externalIds: {}, attachmentIds: [] },
    });
    return 'recorded';
  });
}
