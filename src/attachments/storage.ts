import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';

/** Where attachment bytes live. Keys are ours (random), never derived from client input. */
export interface BlobStore {
  readonly kind: 'disk' | 'database';
  /**
   * Stores what `source` yields under `key` once it has ended. When the source fails (a limit, a
   * client gone), nothing is left under the key or beside it, and the promise rejects with its error.
   */
  put(key: string, source: Readable): Promise<void>;
  get(key: string): Promise<Buffer | null>;
  delete(key: string): Promise<void>;
}

const KEY = /^[a-f0-9]{2}\/[a-f0-9-]{8,64}$/;

export function newStorageKey(): string {
  const hex = randomBytes(16).toString('hex');
  return `${hex.slice(0, 2)}/${hex}`;
}

/** Files under one directory (default DATA_DIR/attachments), written atomically through a rename. */
export class DiskBlobStore implements BlobStore {
  readonly kind = 'disk' as const;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
  }

  #path(key: string): string {
    if (!KEY.test(key)) throw new Error('invalid storage key');
    return join(this.#root, key);
  }

  /** Streamed to a temporary file beside the key, renamed into place once complete. */
  async put(key: string, source: Readable): Promise<void> {
    const path = this.#path(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    try {
      await pipeline(source, createWriteStream(temp, { mode: 0o600, flags: 'wx' }));
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.#path(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }
}

/** Bytes in PostgreSQL itself, so any number of API processes on one database see the same files. */
export class DatabaseBlobStore implements BlobStore {
  readonly kind = 'database' as const;
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * One bytea value, so the bytes are gathered in memory first: at most ATTACHMENT_MAX_BYTES per
   * upload (the source is cut off there), where the disk store holds only a stream buffer.
   */
  async put(key: string, source: Readable): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(chunk as Buffer);
    await this.db.insertInto('attachment_blobs').values({ storage_key: key, bytes: Buffer.concat(chunks) }).execute();
  }

  async get(key: string): Promise<Buffer | null> {
    const row = await this.db.selectFrom('attachment_blobs').select('bytes').where('storage_key', '=', key).executeTakeFirst();
    return row ? Buffer.from(row.bytes) : null;
  }

  async delete(key: string): Promise<void> {
    await this.db.deleteFrom('attachment_blobs').where('storage_key', '=', key).execute();
  }
}
