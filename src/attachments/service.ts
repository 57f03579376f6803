import { createHash, randomUUID, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type { Executor } from '../db/executor.js';
import type { Attachment, Database } from '../db/types.js';
import { notFound, payloadTooLarge, ValidationErrors } from '../errors.js';
import { sanitizeFileName, sniffFile, type SniffedFile } from './files.js';
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

/**
 * How much of the start of a file is kept to sniff it: file-type reads a few KiB at most, and a
 * JPEG's dimensions may come after a large EXIF block. The rest streams by.
 */
const SNIFF_BYTES = 256 * 1024;

/** Counts, hashes and keeps the start of the bytes on their way to the blob store; refuses past `limit`. */
class UploadMeter extends Transform {
  size = 0;
  readonly #hash: Hash = createHash('sha256');
  readonly #head: Buffer[] = [];
  #headBytes = 0;

  constructor(
    private readonly limit: number,
    private readonly refusal: () => Error,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limit) return callback(this.refusal());
    this.#hash.update(chunk);
    if (this.#headBytes < SNIFF_BYTES) {
      this.#head.push(chunk);
      this.#headBytes += chunk.length;
    }
    callback(null, chunk);
  }

  head(): Buffer {
    return Buffer.concat(this.#head).subarray(0, SNIFF_BYTES);
  }

  sha256(): string {
    return this.#hash.digest('hex');
  }
}

/** Bytes in the blob store that no row names yet: recorded by `record`, or removed by `discard`. */
export interface StagedUpload {
  accountId: number;
  fileName: string;
  storageKey: string;
  size: number;
  sha256: string;
  sniffed: SniffedFile;
}

/** Unbound uploads older than this are swept (their message never came). */
export const UNBOUND_UPLOAD_MAX_AGE_MS = 24 * 3600_000;

export function createAttachmentsService({ db, blobs, quotaBytes = 0 }: { db: Kysely<Database>; blobs: BlobStore; quotaBytes?: number }) {
  async function withBytes(row: Attachment): Promise<{ attachment: Attachment; bytes: Buffer }> {
    const bytes = await blobs.get(row.storage_key);
    if (!bytes) throw notFound();
    return { attachment: row, bytes };
  }

  async function usedBytes(accountId: number): Promise<number> {
    const row = await db.selectFrom('attachments').select((eb) => eb.fn.coalesce(eb.fn.sum<string>('size'), eb.val(0)).as('used')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
    return Number(row.used);
  }

  const quotaRefusal = (used: number, incoming: string) =>
    payloadTooLarge(`This account's attachment storage quota is ${quotaBytes} bytes (ATTACHMENT_QUOTA_BYTES); ${used} bytes are stored, so this upload of ${incoming} bytes does not fit.`);

  /**
   * Streams a file into the blob store, counting, hashing and sniffing it on the way. Past
   * `maxBytes`, or past what is left of the account's quota (when `withinQuota`), the stream is cut
   * off with a 413 and nothing is left behind; memory holds a stream buffer and the sniffed start.
   */
  async function stage(input: { accountId: number; fileName: string | undefined; source: Readable; maxBytes?: number; withinQuota?: boolean }): Promise<StagedUpload> {
    const maxBytes = input.maxBytes ?? Number.POSITIVE_INFINITY;
    const used = input.withinQuota && quotaBytes > 0 ? await usedBytes(input.accountId) : 0;
    const left = input.withinQuota && quotaBytes > 0 ? Math.max(0, quotaBytes - used) : Number.POSITIVE_INFINITY;
    const meter = new UploadMeter(Math.min(maxBytes, left), () =>
      left < maxBytes ? quotaRefusal(used, `more than ${left}`) : payloadTooLarge(`Attachments are limited to ${maxBytes} bytes`),
    );
    const storageKey = newStorageKey();
    const [fed, stored] = await Promise.allSettled([pipeline(input.source, meter), blobs.put(storageKey, meter)]);
    if (fed.status === 'rejected' || stored.status === 'rejected') {
      // Both usually fail with the same error; the refusal (or the client's failure) is the one to tell.
      await blobs.delete(storageKey).catch(() => undefined);
      throw fed.status === 'rejected' ? fed.reason : (stored as PromiseRejectedResult).reason;
    }
    return {
      accountId: input.accountId,
      fileName: sanitizeFileName(input.fileName),
      storageKey,
      size: meter.size,
      sha256: meter.sha256(),
      sniffed: await sniffFile(meter.head()),
    };
  }

  /** The row of staged bytes (or, when that fails, the bytes removed). */
  async function record(staged: StagedUpload, uploaderId: number | null): Promise<Attachment> {
    try {
      return await insertAttachment(db, {
        id: randomUUID(),
        account_id: staged.accountId,
        uploader_id: uploaderId,
        file_name: staged.fileName,
        content_type: staged.sniffed.contentType,
        size: staged.size,
        width: staged.sniffed.width,
        height: staged.sniffed.height,
        sha256: staged.sha256,
        storage_key: staged.storageKey,
        ticket_id: null,
        side_conversation_id: null,
        event_id: null,
      });
    } catch (error) {
      await blobs.delete(staged.storageKey).catch(() => undefined);
      throw error;
    }
  }

  return {
    stage,
    record,

    /** Staged bytes that will not be recorded (a refused or replayed upload). */
    async discard(staged: StagedUpload): Promise<void> {
      await blobs.delete(staged.storageKey);
    },

    /** A file already in memory (an inbound email's attachment, bounded by INBOUND_MAX_BYTES). */
    async upload(input: { accountId: number; uploaderId: number | null; fileName: string | undefined; bytes: Buffer }): Promise<Attachment> {
      const staged = await stage({ accountId: input.accountId, fileName: input.fileName, source: Readable.from([input.bytes]) });
      return record(staged, input.uploaderId);
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
      const used = await usedBytes(accountId);
      if (used + incomingBytes > quotaBytes) throw quotaRefusal(used, String(incomingBytes));
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
