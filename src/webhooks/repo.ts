import { sql, type Insertable, type Updateable } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Webhook, WebhookInvocation, WebhookInvocationAttempt, WebhooksTable, WebhookInvocationAttemptsTable, OutboxStatus } from '../db/types.js';
import { jsonb } from '../db/store.js';
import type { CursorPage } from '../http/cursor-pagination.js';
import { attachmentsOfEvents } from '../attachments/repo.js';
import { deliveriesOfEvents } from '../outbox/deliveries.js';
import { participantsOf } from '../side-conversations/repo.js';

type WebhookValues = Omit<Insertable<WebhooksTable>, 'subscriptions' | 'custom_headers'> & { subscriptions: string[]; custom_headers: Record<string, string> };

export async function insertWebhook(db: Executor, values: WebhookValues): Promise<Webhook> {
  return db
    .insertInto('webhooks')
    .values({ ...values, subscriptions: jsonb(values.subscriptions), custom_headers: jsonb(values.custom_headers) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function findWebhook(db: Executor, accountId: number, id: string, forUpdate = false): Promise<Webhook | undefined> {
  const query = db.selectFrom('webhooks').selectAll().where('account_id', '=', accountId).where('id', '=', id);
  return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

export async function updateWebhook(
  db: Executor,
  accountId: number,
  id: string,
  values: Omit<Updateable<WebhooksTable>, 'subscriptions' | 'custom_headers'> & { subscriptions?: string[]; custom_headers?: Record<string, string> },
): Promise<Webhook> {
  const { subscriptions, custom_headers, ...rest } = values;
  return db
    .updateTable('webhooks')
    .set({
      ...rest,
      ...(subscriptions === undefined ? {} : { subscriptions: jsonb(subscriptions) }),
      ...(custom_headers === undefined ? {} : { custom_headers: jsonb(custom_headers) }),
      updated_at: sql`now()`,
    })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteWebhook(db: Executor, accountId: number, id: string): Promise<boolean> {
  const result = await db.deleteFrom('webhooks').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export interface WebhookFilters {
  nameContains?: string | undefined;
  status?: 'active' | 'inactive' | undefined;
}

/** A page of the account's webhooks in id (creation) order, with one row more when there are more. */
export function listWebhooks(db: Executor, accountId: number, filters: WebhookFilters, page: CursorPage): Promise<Webhook[]> {
  let query = db.selectFrom('webhooks').selectAll().where('account_id', '=', accountId);
  if (filters.nameContains) query = query.where(sql<boolean>`strpos(lower(name), lower(${filters.nameContains})) > 0`);
  if (filters.status) query = query.where('status', '=', filters.status);
  if (page.before !== null) return query.where('id', '<', page.before).orderBy('id', 'desc').limit(page.size + 1).execute();
  if (page.after !== null) query = query.where('id', '>', page.after);
  return query.orderBy('id', 'asc').limit(page.size + 1).execute();
}

/** An invocation as listed: its outbox row's state and its latest attempt. */
export interface InvocationRow {
  id: string;
  seq: number;
  event_type: string;
  created_at: Date;
  outbox_status: OutboxStatus;
  latest_completed_at: Date | null;
  status_code: number | null;
}

export type InvocationStatusFilter = 'pending' | 'success' | 'failed';
const OUTBOX_STATUS: Record<InvocationStatusFilter, OutboxStatus> = { pending: 'pending', success: 'delivered', failed: 'failed' };

export interface InvocationFilters {
  status?: InvocationStatusFilter | undefined;
  fromTs?: Date | undefined;
  toTs?: Date | undefined;
}

function invocationsQuery(db: Executor, accountId: number, webhookId: string) {
  return db
    .selectFrom('webhook_invocations as i')
    .innerJoin('outbox as o', 'o.id', 'i.outbox_id')
    .select(['i.id', 'i.seq', 'i.event_type', 'i.created_at', 'o.status as outbox_status'])
    .select((eb) => [
      eb.selectFrom('webhook_invocation_attempts as a').select('a.completed_at').whereRef('a.invocation_id', '=', 'i.id').orderBy('a.seq', 'desc').limit(1).as('latest_completed_at'),
      eb.selectFrom('webhook_invocation_attempts as a').select('a.status_code').whereRef('a.invocation_id', '=', 'i.id').orderBy('a.seq', 'desc').limit(1).as('status_code'),
    ])
    .where('i.account_id', '=', accountId)
    .where('i.webhook_id', '=', webhookId);
}

/** A page of a webhook's invocations, newest first, with one row more when there are more. */
export async function listInvocations(db: Executor, accountId: number, webhookId: string, filters: InvocationFilters, page: CursorPage): Promise<InvocationRow[]> {
  let query = invocationsQuery(db, accountId, webhookId);
  if (filters.status) query = query.where('o.status', '=', OUTBOX_STATUS[filters.status]);
  if (filters.fromTs) query = query.where('i.created_at', '>=', filters.fromTs);
  if (filters.toTs) query = query.where('i.created_at', '<=', filters.toTs);
  const rows =
    page.before !== null
      ? await query.where('i.seq', '>', Number(page.before)).orderBy('i.seq', 'asc').limit(page.size + 1).execute()
      : await (page.after !== null ? query.where('i.seq', '<', Number(page.after)) : query).orderBy('i.seq', 'desc').limit(page.size + 1).execute();
  return rows.map((r) => ({ ...r, seq: Number(r.seq), status_code: r.status_code ?? null, latest_completed_at: r.latest_completed_at ?? null }));
}

export function findInvocation(db: Executor, accountId: number, webhookId: string, invocationId: string): Promise<WebhookInvocation | undefined> {
  return db.selectFrom('webhook_invocations').selectAll().where('account_id', '=', accountId).where('webhook_id', '=', webhookId).where('id', '=', invocationId).executeTakeFirst();
}

export function attemptsOf(db: Executor, accountId: number, invocationId: string): Promise<WebhookInvocationAttempt[]> {
  return db.selectFrom('webhook_invocation_attempts').selectAll().where('account_id', '=', accountId).where('invocation_id', '=', invocationId).orderBy('seq').execute();
}

// ---------------------------------------------------------------------------------------------
// Delivery (the relay's webhook channel)
// ---------------------------------------------------------------------------------------------

/** The invocation an outbox row delivers, with its webhook (none: the webhook was deleted since). */
export async function invocationOfOutboxRow(db: Executor, outboxId: number): Promise<{ invocation: WebhookInvocation; webhook: Webhook } | undefined> {
  const invocation = await db.selectFrom('webhook_invocations').selectAll().where('outbox_id', '=', outboxId).executeTakeFirst();
  if (!invocation) return undefined;
  const webhook = await findWebhook(db, invocation.account_id, invocation.webhook_id);
  return webhook ? { invocation, webhook } : undefined;
}

/** Fixes the body on the first attempt; a later attempt (or another relay) gets the one fixed first. */
export async function fixPayload(db: Executor, invocationId: string, payload: string): Promise<string> {
  await db.updateTable('webhook_invocations').set({ payload }).where('id', '=', invocationId).where('payload', 'is', null).execute();
  const row = await db.selectFrom('webhook_invocations').select('payload').where('id', '=', invocationId).executeTakeFirstOrThrow();
  return row.payload ?? payload;
}

export async function recordAttempt(
  db: Executor,
  attempt: Omit<Insertable<WebhookInvocationAttemptsTable>, 'request_headers' | 'response_headers'> & {
    request_headers: Array<{ key: string; value: string }>;
    response_headers: Array<{ key: string; value: string }>;
  },
): Promise<void> {
  await db
    .insertInto('webhook_invocation_attempts')
    .values({ ...attempt, request_headers: jsonb(attempt.request_headers), response_headers: jsonb(attempt.response_headers) })
    .execute();
}

/** What the body of one invocation presents: the side conversation and the event, as the API shows them. */
export async function eventOfInvocation(db: Executor, invocation: WebhookInvocation) {
  const { account_id: accountId } = invocation;
  const [sc, event, participants, attachments, deliveries] = await Promise.all([
    db.selectFrom('side_conversations').selectAll().where('account_id', '=', accountId).where('id', '=', invocation.side_conversation_id).executeTakeFirst(),
    db.selectFrom('side_conversation_events').selectAll().where('account_id', '=', accountId).where('id', '=', invocation.event_id).executeTakeFirst(),
    participantsOf(db, accountId, [invocation.side_conversation_id]),
    attachmentsOfEvents(db, accountId, [invocation.event_id]),
    deliveriesOfEvents(db, accountId, [invocation.event_id]),
  ]);
  if (!sc || !event) return undefined;
  return {
    sc,
    participants: participants.get(sc.id) ?? [],
    event,
    details: { attachments: attachments.get(event.id) ?? [], deliveries: deliveries.get(event.id) ?? [] },
  };
}

// ---------------------------------------------------------------------------------------------
// The circuit breaker
// ---------------------------------------------------------------------------------------------

export interface CircuitPolicy {
  /** Failed attempts in a row that open the circuit. */
  threshold: number;
  /** The first pause; each failed trial doubles it, up to maxPauseMs. */
  pauseMs: number;
  maxPauseMs: number;
  /** How long one trial request holds the half-open circuit for itself. */
  trialMs: number;
}

const interval = (ms: number) => sql`${`${Math.max(0, Math.round(ms))} milliseconds`}::interval`;

/**
 * May a request go to this webhook now? Closed: yes. Open: no, for `waitMs`. Half-open (the pause
 * is over): exactly one delivery, across relays, gets the trial; the others wait for its outcome.
 */
export async function enterCircuit(db: Executor, webhookId: string, policy: CircuitPolicy): Promise<{ allowed: true } | { allowed: false; waitMs: number }> {
  const state = await sql<{ failures: number; wait_ms: number | null }>`
    select circuit_failures as failures,
           case when circuit_open_until > now() then ceil(extract(epoch from circuit_open_until - now()) * 1000)::int end as wait_ms
    from webhooks where id = ${webhookId}`.execute(db);
  const row = state.rows[0];
  if (!row) return { allowed: true };
  if (row.wait_ms !== null) return { allowed: false, waitMs: Number(row.wait_ms) };
  if (Number(row.failures) < policy.threshold) return { allowed: true };
  const trial = await sql`
    update webhooks set circuit_open_until = now() + ${interval(policy.trialMs)}
    where id = ${webhookId} and (circuit_open_until is null or circuit_open_until <= now())`.execute(db);
  return Number(trial.numAffectedRows ?? 0) > 0 ? { allowed: true } : { allowed: false, waitMs: policy.trialMs };
}

/** An answered attempt closes the circuit; a failed one counts, and opens it at the threshold. */
export async function recordCircuitOutcome(db: Executor, webhookId: string, succeeded: boolean, policy: CircuitPolicy): Promise<void> {
  if (succeeded) {
    await db.updateTable('webhooks').set({ circuit_failures: 0, circuit_open_until: null }).where('id', '=', webhookId).where('circuit_failures', '>', 0).execute();
    return;
  }
  await sql`
    update webhooks set
      circuit_failures = circuit_failures + 1,
      circuit_open_until = case
        when circuit_failures + 1 >= ${policy.threshold}
        then now() + least(${policy.maxPauseMs}::float8, ${policy.pauseMs}::float8 * power(2, circuit_failures + 1 - ${policy.threshold})) * interval '1 millisecond'
        else circuit_open_until end
    where id = ${webhookId}`.execute(db);
}
