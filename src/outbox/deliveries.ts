import type { Executor } from '../db/executor.js';
import { groupBy } from '../db/paging.js';
import type { Delivery } from '../db/types.js';

/** Delivery status rows of several events, grouped by event. */
export async function deliveriesOfEvents(db: Executor, accountId: number, eventIds: string[]): Promise<Map<string, Delivery[]>> {
  if (eventIds.length === 0) return new Map();
  const rows = await db.selectFrom('deliveries').selectAll().where('account_id', '=', accountId).where('event_id', 'in', eventIds).orderBy('id').execute();
  return groupBy(rows, (row) => row.event_id);
}

/** The recipients of an outbox row still waiting for their message (a retry sends to these only). */
export async function queuedRecipients(db: Executor, accountId: number, outboxId: number): Promise<Set<string>> {
  const rows = await db
    .selectFrom('deliveries')
    .select('recipient')
    .where('account_id', '=', accountId)
    .where('outbox_id', '=', outboxId)
    .where('status', '=', 'queued')
    .execute();
  return new Set(rows.map((row) => row.recipient));
}
