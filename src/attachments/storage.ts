import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';

/** Where attachment bytes live. Keys are ours (random), never derived from client input. */
export interface BlobStore {
  readonly kind: 'disk' | 'database';
  put(key: string, bytes: Buffer): Promise<void>;
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

  async put(key: string, bytes: Buffer): Promise<void> {
    const path = this.#path(key);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, bytes, { mode: 0o600 });
    await rename(temp, path);
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

  async put(key: string, bytes: Buffer): Promise<void> {
    await this.db.insertInto('attachment_blobs').values({ storage_key: key, bytes }).execute();
  }

  async get(key: string): Promise<Buffer | null> {
    const row = await this.db.selectFrom('attachment_blobs').select('bytes').where('storage_key', '=', key).executeTakeFirst();
    return row ? Buffer.from(row.bytes) : null;
  }

  async delete(key: string): Promise<void> {
    await this.db.deleteFrom('attachment_blobs').where('storage_key', '=', key).execute();
  }
}
