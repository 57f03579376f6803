import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Attachment, Database } from '../db/types.js';
import { notFound, ValidationErrors } from '../http/errors.js';
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

export function createAttachmentsService({ db, blobs }: { db: Kysely<Database>; blobs: BlobStore }) {
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
    async open(accountId: number, id: string, where: { ticketId: number; sideConversationId: string } | 'unbound') {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw notFound();
      const row = await findAttachment(db, accountId, id);
      if (!row) throw notFound();
      if (where === 'unbound' ? row.event_id !== null : row.ticket_id !== where.ticketId || row.side_conversation_id !== where.sideConversationId) {
        throw notFound();
      }
      const bytes = await blobs.get(row.storage_key);
      if (!bytes) throw notFound();
      return { attachment: row, bytes };
    },
  };
}

export type AttachmentsService = ReturnType<typeof createAttachmentsService>;
