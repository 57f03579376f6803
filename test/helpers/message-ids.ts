import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/types.js';

/**
 * The Message-IDs recorded for outbound events (a keyed hash of the event, see threading.ts), in the
 * order of the events given; what a test compares the mail it received with.
 */
export async function sentMessageIds(db: Kysely<Database>, eventIds: string[]): Promise<string[]> {
  if (eventIds.length === 0) return [];
  const rows = await db.selectFrom('email_messages').select(['event_id', 'message_id']).where('event_id', 'in', eventIds).where('direction', '=', 'outbound').execute();
  const byEvent = new Map(rows.map((r) => [r.event_id, r.message_id]));
  return eventIds.map((id) => byEvent.get(id) ?? `(none recorded for ${id})`);
}

/** The Message-ID header of a raw message, angle brackets included, or '' when it has none. */
export function messageIdOf(raw: Buffer): string {
  return /^Message-ID:\s*(<[^>]+>)/im.exec(raw.toString('latin1'))?.[1] ?? '';
}
