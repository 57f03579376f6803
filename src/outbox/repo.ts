/**
 * The outbox SQL of the relay: claim, renew, release, record.
 *
 * Lock order, so that any number of relays (each with several workers) never deadlock: a claim
 * locks only rows nobody holds (SKIP LOCKED, it never waits); a renewal locks the rows it extends
 * in id order; recording an outcome locks one outbox row, then that row's deliveries. Two lockers
 * of outbox rows therefore always take them in ascending id order, and deliveries are only ever
 * locked by the holder of their outbox row.
 */
import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { OutboxRow } from '../db/types.js';

const interval = (ms: number) => sql`${`${Math.max(0, Math.round(ms))} milliseconds`}::interval`;

/**
 * Claims up to `limit` due rows for `relayId` and leases them for `leaseMs`. Rows this relay
 * claimed in an earlier pass that ended without finishing them (the pass failed, the database went
 * away) are due at once: a relay runs one pass at a time, so nothing of its own is in hand here.
 */
export async function claimDue(db: Executor, relayId: string, limit: number, leaseMs: number): Promise<OutboxRow[]> {
  const result = await sql<OutboxRow>`
    with due as (
      select id from outbox
      where status = 'pending' and next_attempt_at <= now()
        and (claimed_until is null or claimed_until < now() or claimed_by = ${relayId})
      order by next_attempt_at, id
      limit ${limit}
      for update skip locked
    )
    update outbox set claimed_until = now() + ${interval(leaseMs)},
                      claimed_by = ${relayId},
                      attempts = outbox.attempts + 1
    from due where outbox.id = due.id
    returning outbox.*`.execute(db);
  return result.rows;
}

/**
 * Extends the lease of those of `ids` this relay still holds, locking them in id order; returns
 * the ids renewed (a row missing from the answer was taken over after its lease lapsed).
 */
export async function renewLeases(db: Executor, relayId: string, ids: readonly number[], leaseMs: number): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const result = await sql<{ id: number }>`
    with mine as (
      select id from outbox
      where id = any(${[...ids]}::bigint[]) and claimed_by = ${relayId} and status = 'pending' and claimed_until is not null
      order by id
      for update
    )
    update outbox set claimed_until = now() + ${interval(leaseMs)}
    from mine where outbox.id = mine.id
    returning outbox.id`.execute(db);
  return new Set(result.rows.map((r) => Number(r.id)));
}

/**
 * Gives back rows claimed by `relayId` and not finished (all of them, or only `ids`), undoing the
 * attempt their claim counted: they are due again at once, for any relay.
 */
export async function releaseClaims(db: Executor, relayId: string, ids?: readonly number[]): Promise<number> {
  if (ids !== undefined && ids.length === 0) return 0;
  const result = await sql`
    with mine as (
      select id from outbox
      where claimed_by = ${relayId} and status = 'pending' and claimed_until is not null
        ${ids === undefined ? sql`` : sql`and id = any(${[...ids]}::bigint[])`}
      order by id
      for update
    )
    update outbox set claimed_until = null, claimed_by = null, attempts = greatest(outbox.attempts - 1, 0)
    from mine where outbox.id = mine.id`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Gives back every claim, whoever made it (the embedded store only: see Relay.releaseAllClaims). */
export async function releaseAllClaims(db: Executor): Promise<number> {
  const result = await db
    .updateTable('outbox')
    .set({ claimed_until: null, claimed_by: null })
    .where('status', '=', 'pending')
    .where('claimed_until', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Inside the recording transaction: locks the row if `relayId` still holds it; false if its lease was lost. */
export async function lockClaimedRow(trx: Executor, id: number, relayId: string): Promise<boolean> {
  const mine = await trx
    .selectFrom('outbox')
    .select(['id'])
    .where('id', '=', id)
    .where('claimed_by', '=', relayId)
    .where('status', '=', 'pending')
    .forUpdate()
    .executeTakeFirst();
  return mine !== undefined;
}

/** One recipient's final word (sent, or refused for good). */
export async function recordRecipient(trx: Executor, id: number, recipient: string, status: 'sent' | 'failed', reason: string | null): Promise<void> {
  await trx
    .updateTable('deliveries')
    .set({ status, reason, updated_at: sql`now()` })
    .where('outbox_id', '=', id)
    .where('recipient', '=', recipient)
    .execute();
}

/** Marks the row delivered and its recipients still queued as sent (handed over with the rest). */
export async function markDelivered(trx: Executor, id: number): Promise<void> {
  await trx
    .updateTable('outbox')
    .set({ status: 'delivered', delivered_at: sql`now()`, claimed_until: null, last_error: null })
    .where('id', '=', id)
    .execute();
  await trx.updateTable('deliveries').set({ status: 'sent', updated_at: sql`now()` }).where('outbox_id', '=', id).where('status', '=', 'queued').execute();
}

/**
 * Marks delivered, in one statement, those of `ids` that `relayId` still holds, with their
 * recipients still queued as sent (rows handed over to every recipient); returns the ids recorded.
 * Locks the outbox rows in id order, then their deliveries, like every other recorder.
 */
export async function markDeliveredIfHeld(db: Executor, relayId: string, ids: readonly number[]): Promise<Set<number>> {
  if (ids.length === 0) return new Set();
  const result = await sql<{ id: number }>`
    with mine as (
      select id from outbox
      where id = any(${[...ids]}::bigint[]) and claimed_by = ${relayId} and status = 'pending'
      order by id
      for update
    ),
    done as (
      update outbox set status = 'delivered', delivered_at = now(), claimed_until = null, last_error = null
      from mine where outbox.id = mine.id
      returning outbox.id
    ),
    sent as (
      update deliveries set status = 'sent', updated_at = now()
      from done where deliveries.outbox_id = done.id and deliveries.status = 'queued'
    )
    select id from done`.execute(db);
  return new Set(result.rows.map((r) => Number(r.id)));
}

/** Marks the row and its recipients still queued failed for good, with the reason. */
export async function markFailed(trx: Executor, id: number, reason: string): Promise<void> {
  await trx.updateTable('outbox').set({ status: 'failed', claimed_until: null, last_error: reason }).where('id', '=', id).execute();
  await trx
    .updateTable('deliveries')
    .set({ status: 'failed', reason, updated_at: sql`now()` })
    .where('outbox_id', '=', id)
    .where('status', '=', 'queued')
    .execute();
}

/** Releases the row to be tried again after `delayMs`. */
export async function scheduleRetry(trx: Executor, id: number, reason: string, delayMs: number): Promise<void> {
  await trx
    .updateTable('outbox')
    .set({ claimed_until: null, last_error: reason, next_attempt_at: sql`now() + ${interval(delayMs)}` })
    .where('id', '=', id)
    .execute();
}

/** Releases the row to be tried after `delayMs`, giving back the attempt its claim counted (nothing was tried). */
export async function postpone(trx: Executor, id: number, reason: string, delayMs: number): Promise<void> {
  await trx
    .updateTable('outbox')
    .set({
      claimed_until: null,
      last_error: reason,
      attempts: sql`greatest(attempts - 1, 0)`,
      next_attempt_at: sql`now() + ${interval(delayMs)}`,
    })
    .where('id', '=', id)
    .execute();
}
