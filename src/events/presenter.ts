import type { FeedEntry } from '../db/types.js';
import type { Executor } from '../db/executor.js';
import { isoMillis } from '../http/time.js';
import { presentEvent, presentSideConversation } from '../side-conversations/presenter.js';
import { feedDetails } from './repo.js';

/** One stream message's `data`: the envelope of issue 12 (the webhook body has the same fields). */
export interface FeedMessage {
  id: string;
  type: FeedEntry['type'];
  account_id: number;
  time: string;
  ticket_id: number;
  side_conversation: ReturnType<typeof presentSideConversation>;
  event: ReturnType<typeof presentEvent>;
}

/**
 * Feed rows as stream messages. The side conversation is shown as it is now (as Show would answer),
 * the event with its current deliveries. A row whose conversation is gone (a deleted ticket) is skipped.
 */
/** A feed row and the message a stream sends for it. */
export interface PresentedFeedEntry {
  entry: FeedEntry;
  message: FeedMessage;
}

export async function presentFeed(db: Executor, accountId: number, entries: FeedEntry[], base: string): Promise<PresentedFeedEntry[]> {
  if (entries.length === 0) return [];
  const details = await feedDetails(db, accountId, entries);
  const out: PresentedFeedEntry[] = [];
  for (const entry of entries) {
    const sc = details.sideConversations.get(entry.side_conversation_id);
    const event = details.events.get(entry.event_id);
    if (!sc || !event) continue;
    out.push({
      entry,
      message: {
        id: entry.id,
        type: entry.type,
        account_id: entry.account_id,
        time: isoMillis(entry.created_at),
        ticket_id: entry.ticket_id,
        side_conversation: presentSideConversation(sc, details.participants.get(sc.id) ?? [], base),
        event: presentEvent(
          event,
          { attachments: details.attachments.get(event.id) ?? [], deliveries: details.deliveries.get(event.id) ?? [] },
          base,
        ),
      },
    });
  }
  return out;
}

/** One SSE message: `id:` the cursor, `event:` the type, `data:` the JSON on one line. */
export function sseMessage(entry: FeedEntry, message: FeedMessage): string {
  return `id: ${entry.position}\nevent: ${entry.type}\ndata: ${JSON.stringify(message)}\n\n`;
}
