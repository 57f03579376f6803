import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Attachment, Database } from '../db/types.js';
import { notFound, payloadTooLarge, ValidationErrors } from '../http/errors.js';
import { sanitizeFileName, sniffFile } from './files.js';
import { bindAttachments, findAttachment, insertAttachment, lockUnboundAttachments } from './repo.js';
import { newStorageKey, type BlobStore } from './storage.js';

export const MAX_ATTACHMENTS_PER_MESSAGE = 20;

/**
 * Binds uploads to a message inside the message's transaction. Unknown ids, ids of another
 * account and ids already bound to a message are one 422 naming each of them.
 */
export async function bindAttachmentsToMessage(
  trx: Executor,
  accountId: number,
  ids: string[] | null | undefined,
  target: { ticketId: number; sideConversationId: string; eventId: string },
  field = 'message.attachment_ids',
): Promise<Attachment[]> {
  const wanted = [...new Set((ids ?? []).map((id) => id.toLowerCase()))];
  if (wanted.length === 0) return [];
  const errors = new ValidationErrors();
  if (wanted.length > MAX_ATTACHMENTS_PER_MESSAGE) {
    errors.add(field, `Attachments: at most ${MAX_ATTACHMENTS_PER_MESSAGE} per message`);
    errors.throwIfAny();
  }
  const valid = wanted.filter((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id));
  const found = await lockUnboundAttachments(trx, accountId, valid);
  const foundIds = new Set(found.map((a) => a.id));
  for (const id of wanted) {
    if (!foundIds.has(id)) errors.add(field, `Attachment: ${id} not found or already used by another message`, 'NotFound');
  }
  errors.throwIfAny();
  await bindAttachments(trx, accountId, wanted, target);
  return wanted.map((id) => found.find((a) => a.id === id)!).map((a) => ({
    ...a,
    ticket_id: target.ticketId,
    side_conversation_id: target.sideConversationId,
    event_id: target.eventId,
  }));
}

/** Unbound uploads older than this are swept (their message never came). */
export const UNBOUND_UPLOAD_MAX_AGE_MS = 24 * 3600_000;

export function createAttachmentsService({ db, blobs, quotaBytes = 0 }: { db: Kysely<Database>; blobs: BlobStore; quotaBytes?: number }) {
  async function withBytes(row: Attachment): Promise<{ attachment: Attachment; bytes: Buffer }> {
    const bytes = await blobs.get(row.storage_key);
    if (!bytes) throw notFound();
    return { attachment: row, bytes };
  }

  return {
    async upload(input: { accountId: number; uploaderId: number | null; fileName: string | undefined; bytes: Buffer }): Promise<Attachment> {
      const sniffed = await sniffFile(input.bytes);
      const key = newStorageKey();
      await blobs.put(key, input.bytes);
      try {
        return await insertAttachment(db, {
          id: randomUUID(),
          account_id: input.accountId,
          uploader_id: input.uploaderId,
          file_name: sanitizeFileName(input.fileName),
          content_type: sniffed.contentType,
          size: input.bytes.length,
          width: sniffed.width,
          height: sniffed.height,
          sha256: createHash('sha256').update(input.bytes).digest('hex'),
          storage_key: key,
          ticket_id: null,
          side_conversation_id: null,
          event_id: null,
        });
      } catch (error) {
        await blobs.delete(key).catch(() => undefined);
        throw error;
      }
    },

    /**
     * The bytes of an attachment, for an agent of its account. A bound attachment is found only
     * under its own ticket and side conversation; an unbound one only through the uploads path.
     */
    async open(accountId: number, id: string, where: { ticketId: number; sideConversationId: string }) {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw notFound();
      const row = await findAttachment(db, accountId, id);
      if (!row || row.ticket_id !== where.ticketId || row.side_conversation_id !== where.sideConversationId) throw notFound();
      return withBytes(row);
    },

    /**
     * ATTACHMENT_QUOTA_BYTES: refuses an upload that would take the account's stored attachments
     * over the quota (checked before the bytes are stored; concurrent uploads may overshoot by one).
     */
    async checkQuota(accountId: number, incomingBytes: number): Promise<void> {
      if (quotaBytes <= 0) return;
      const used = Number((await db.selectFrom('attachments').select((eb) => eb.fn.coalesce(eb.fn.sum<string>('size'), eb.val(0)).as('used')).where('account_id', '=', accountId).executeTakeFirstOrThrow()).used);
      if (used + incomingBytes > quotaBytes) {
        throw payloadTooLarge(
          `This account's attachment storage quota is ${quotaBytes} bytes (ATTACHMENT_QUOTA_BYTES); ${used} bytes are stored, so this upload of ${incomingBytes} bytes does not fit.`,
        );
      }
    },

    /** Deletes uploads never bound to a message and older than `olderThan`, rows and bytes; returns how many. */
    async sweepUnbound(olderThan: Date, batch = 500): Promise<number> {
      const stale = await db.selectFrom('attachments').select('id').where('event_id', 'is', null).where('created_at', '<', olderThan).limit(batch).execute();
      if (stale.length === 0) return 0;
      // `event_id is null` again in the delete: an upload bound meanwhile stays.
      const deleted = await db
        .deleteFrom('attachments')
        .where('id', 'in', stale.map((r) => r.id))
        .where('event_id', 'is', null)
        .returning('storage_key')
        .execute();
      for (const row of deleted) await blobs.delete(row.storage_key);
      return deleted.length;
    },

    /** Through the upload's own URL: the bytes while unbound, else the row it is bound as (to redirect). */
    async openUpload(accountId: number, id: string): Promise<{ attachment: Attachment; bytes: Buffer } | { bound: Attachment }> {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw notFound();
      const row = await findAttachment(db, accountId, id);
      if (!row) throw notFound();
      if (row.event_id !== null && row.ticket_id !== null && row.side_conversation_id !== null) return { bound: row };
      return withBytes(row);
    },
  };
}

export type AttachmentsService = ReturnType<typeof createAttachmentsService>;
