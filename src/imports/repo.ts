import { sql } from 'kysely';
import type { Executor } from '../db/executor.js';
import type {
  SideConversation,
  SideConversationEvent,
  SideConversationState,
} from '../db/types.js';

/**
 * The SQL of imports: rows written with the times they had at their source. The live roads write
 * `now()` (src/side-conversations/repo.ts); history brought from elsewhere keeps its own clock.
 */

/** Marks the transaction as an import: the webhook trigger (migration 0010) queues nothing for it. */
export async function markImportTransaction(trx: Executor): Promise<void> {
  await sql`select set_config('sideline.import', 'on', true)`.execute(trx);
}

export function findImportedSideConversation(db: Executor, accountId: number, importKey: string): Promise<{ id: string; ticket_id: number } | undefined> {
  return db
    .selectFrom('side_conversations')
    .select(['id', 'ticket_id'])
    .where('account_id', '=', accountId)
    .where('import_key', '=', importKey)
    .executeTakeFirst();
}

export function updateImportedTimes(
  db: Executor,
  accountId: number,
  id: string,
  changes: { state?: SideConversationState; subject?: string; preview_text?: string; updated_at: Date; message_added_at?: Date; state_updated_at?: Date },
): Promise<SideConversation> {
  return db.updateTable('side_conversations').set(changes).where('account_id', '=', accountId).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}


/** The newest event of a conversation (imported events must not go before it). */
export function lastEventOf(db: Executor, accountId: number, sideConversationId: string): Promise<SideConversationEvent | undefined> {
  return db
    .selectFrom('side_conversation_events')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('side_conversation_id', '=', sideConversationId)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
}

function canonical(ids: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(ids).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** Which of these message external_ids (as canonical JSON) the conversation's events already carry. */
export async function existingMessageExternalIds(db: Executor, accountId: number, sideConversationId: string, candidates: string[]): Promise<Set<string>> {
  if (candidates.length === 0) return new Set();
  const rows = await db
    .selectFrom('side_conversation_events')
    .select(sql<string>`(message->'external_ids')::text`.as('ids'))
    .where('account_id', '=', accountId)
    .where('side_conversation_id', '=', sideConversationId)
    .where(sql<boolean>`message->'external_ids' in (${sql.join(candidates.map((c) => sql`${c}::jsonb`))})`)
    .execute();
  // Sorted as canonicalIds sorts them (jsonb's own key order is by length first).
  return new Set(rows.map((r) => canonical(JSON.parse(r.ids) as Record<string, string>)));
}

/** A child ticket learns the conversation it belongs to (as a live child-ticket create sets it). */
export async function linkChildTicket(db: Executor, accountId: number, ticketId: number, sideConversationId: string): Promise<void> {
  await db
    .updateTable('tickets')
    .set({ parent_side_conversation_id: sideConversationId })
    .where('account_id', '=', accountId)
    .where('id', '=', ticketId)
    .where('parent_side_conversation_id', 'is', null)
    .execute();
}

// --- checkpoints of `sideline import-from` -----------------------------------------------------

export interface CheckpointKey {
  source: string;
  kind: string;
  sourceId: string;
}

export async function findCheckpoint(db: Executor, accountId: number, key: CheckpointKey): Promise<string | undefined> {
  const row = await db
    .selectFrom('import_checkpoints')
    .select('target_id')
    .where('account_id', '=', accountId)
    .where('source', '=', key.source)
    .where('kind', '=', key.kind)
    .where('source_id', '=', key.sourceId)
    .executeTakeFirst();
  return row?.target_id;
}

/** Every checkpoint of one kind from one source, source id → target id. */
export async function checkpointsOf(db: Executor, accountId: number, source: string, kind: string): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom('import_checkpoints')
    .select(['source_id', 'target_id'])
    .where('account_id', '=', accountId)
    .where('source', '=', source)
    .where('kind', '=', kind)
    .execute();
  return new Map(rows.map((r) => [r.source_id, r.target_id]));
}

export async function recordCheckpoint(db: Executor, accountId: number, key: CheckpointKey, targetId: string): Promise<void> {
  await db
    .insertInto('import_checkpoints')
    .values({ account_id: accountId, source: key.source, kind: key.kind, source_id: key.sourceId, target_id: targetId })
    .onConflict((oc) => oc.columns(['account_id', 'source', 'kind', 'source_id']).doUpdateSet({ target_id: targetId }))
    .execute();
}

// --- tickets ---------------------------------------------------------------------------------

export async function insertImportedComments(
  db: Executor,
  comments: Array<{ account_id: number; ticket_id: number; author_id: number; body: string; html_body: string; public: boolean; via_channel: string; created_at: Date }>,
): Promise<void> {
  if (comments.length === 0) return;
  // In batches: one statement's parameters are bounded (65535 in PostgreSQL's protocol).
  for (let i = 0; i < comments.length; i += 500) await db.insertInto('ticket_comments').values(comments.slice(i, i + 500)).execute();
}
