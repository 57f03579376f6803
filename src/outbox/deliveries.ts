import type { Executor } from '../db/executor.js';
import { groupBy } from '../db/paging.js';
import type { Delivery } from '../db/types.js';

/** Delivery status rows of several events, grouped by event. */
export async function deliveriesOfEvents(db: Executor, accountId: number, eventIds: string[]): Promise<Map<string, Delivery[]>> {
  if (eventIds.length === 0) return new Map();
  const rows = await db.selectFrom('deliveries').selectAll().where('account_id', '=', accountId).where('event_id', 'in', eventIds).orderBy('id').execute();
  return groupBy(rows, (row) => row.event_id);
}

/** The recipients of each outbox row still waiting for their message (a retry sends to these only). */
export async function queuedRecipientsOf(db: Executor, accountId: number, outboxIds: number[]): Promise<Map<number, Set<string>>> {
  const queued = new Map<number, Set<string>>(outboxIds.map((id) => [id, new Set()]));
  if (outboxIds.length === 0) return queued;
  const rows = await db
    .selectFrom('deliveries')
    .select(['outbox_id', 'recipient'])
    .where('account_id', '=', accountId)
    .where('outbox_id', 'in', outboxIds)
    .where('status', '=', 'queued')
    .execute();
  for (const row of rows) queued.get(Number(row.outbox_id))?.add(row.recipient);
  return queued;
}
