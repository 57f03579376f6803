import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import { jsonb } from '../db/store.js';

export interface KeyRef {
  accountId: number;
  userId: number;
  key: string;
}

/** How long a key's first answer is kept and replayed. */
const RETENTION = sql`interval '24 hours'`;

/**
 * Claims the key for a new request: true when this request is the first (within 24 h). A claim
 * older than the retention is forgotten first, so an old key may be used again.
 */
export async function claimKey(db: Executor, ref: KeyRef, fingerprint: string): Promise<boolean> {
  await db
    .deleteFrom('idempotency_keys')
    .where('account_id', '=', ref.accountId)
    .where('user_id', '=', ref.userId)
    .where('key', '=', ref.key)
    .where('created_at', '<', sql<Date>`now() - ${RETENTION}`)
    .execute();
  const inserted = await db
    .insertInto('idempotency_keys')
    .values({ account_id: ref.accountId, user_id: ref.userId, key: ref.key, fingerprint, response_body: null })
    .onConflict((oc) => oc.columns(['account_id', 'user_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst();
  return inserted !== undefined;
}

export function findKey(db: Executor, ref: KeyRef) {
  return db
    .selectFrom('idempotency_keys')
    .select(['fingerprint', 'response_status', 'response_body'])
    .where('account_id', '=', ref.accountId)
    .where('user_id', '=', ref.userId)
    .where('key', '=', ref.key)
    .where('created_at', '>=', sql<Date>`now() - ${RETENTION}`)
    .executeTakeFirst();
}

export async function recordAnswer(db: Executor, ref: KeyRef, status: number, body: unknown): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ response_status: status, response_body: jsonb(body) })
    .where('account_id', '=', ref.accountId)
    .where('user_id', '=', ref.userId)
    .where('key', '=', ref.key)
    .execute();
}

/** The first request failed (and wrote nothing): the key is free again. */
export async function releaseKey(db: Executor, ref: KeyRef): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('account_id', '=', ref.accountId)
    .where('user_id', '=', ref.userId)
    .where('key', '=', ref.key)
    .where('response_status', 'is', null)
    .execute();
}
