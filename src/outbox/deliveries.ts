import type { Executor } from '../db/executor.js';
import type { Delivery } from '../db/types.js';

/** Delivery status rows of several events, grouped by event. */
export async function deliveriesOfEvents(db: Executor, accountId: number, eventIds: string[]): Promise<Map<string, Delivery[]>> {
  const grouped = new Map<string, Delivery[]>();
  if (eventIds.length === 0) return grouped;
  const rows = await db
    .selectFrom('deliveries')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('event_id', 'in', eventIds)
    .orderBy('id')
    .execute();
  for (const row of rows) {
    const list = grouped.get(row.event_id) ?? [];
    list.push(row);
    grouped.set(row.event_id, list);
  }
  return grouped;
}
