import { PGlite } from '@electric-sql/pglite';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { ConfigError, type Config } from '../config.js';
import { lockDataDir } from '../db/lock.js';
import { openStore } from '../db/store.js';
import { backupSocketPath, type BackupHeader } from '../ops/backup-socket.js';

const POSTGRES_BACKUP = 'With DATABASE_URL set, back up PostgreSQL itself: pg_dump --format=custom --file=sideline.dump "$DATABASE_URL" (see README, "Run it for real").';
const POSTGRES_RESTORE = 'With DATABASE_URL set, restore PostgreSQL itself: pg_restore --clean --if-exists --no-owner --dbname="$DATABASE_URL" sideline.dump (see README, "Run it for real").';

/** Asks the server running on this data directory for a dump; null when none listens there. */
async function dumpFromRunningServer(dataDir: string): Promise<Uint8Array | null> {
  const path = backupSocketPath(dataDir);
  if (!existsSync(path)) return null;
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(path);
    socket.on('connect', () => socket.write('backup\n'));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A socket file nobody listens on: its server died; the store is then opened directly.
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolvePromise(null);
      else reject(error);
    });
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const newline = all.indexOf(0x0a);
      let header: BackupHeader;
      try {
        header = JSON.parse(all.subarray(0, newline).toString('utf8')) as BackupHeader;
      } catch {
        return reject(new Error('the running server gave an unreadable answer to the backup request'));
      }
      if (!header.ok) return reject(new Error(`the running server could not make the backup: ${header.error ?? 'unknown error'}`));
      const body = all.subarray(newline + 1);
      if (body.byteLength !== header.bytes) return reject(new Error(`the backup was cut short (${body.byteLength} of ${header.bytes} bytes)`));
      resolvePromise(body);
    });
  });
}

/** Writes the whole file under a temporary name, flushes it, then renames: never a half-written backup. */
function writeWhole(target: string, bytes: Uint8Array): void {
  const partial = `${target}.partial`;
  const fd = openSync(partial, 'w', 0o600);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(partial, 0o600);
  renameSync(partial, target);
}

/** `sideline backup --to FILE`: a consistent copy of the embedded store, from the running server or directly. */
export async function runBackup(config: Config, to: string | undefined, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (config.databaseUrl) throw new ConfigError(POSTGRES_BACKUP);
  if (!to) throw new ConfigError('backup needs --to FILE');
  const dataDir = resolve(config.dataDir);
  const target = resolve(to);
  if (target.startsWith(`${dataDir}/`)) throw new ConfigError(`write the backup outside DATA_DIR (${dataDir})`);
  let bytes = await dumpFromRunningServer(dataDir);
  let source = 'the running server';
  if (!bytes) {
    if (!existsSync(join(dataDir, 'pgdata'))) throw new ConfigError(`there is no embedded store in ${dataDir} (set DATA_DIR)`);
    // No server: open the store ourselves (this takes the lock, so a server cannot start meanwhile).
    const store = await openStore({ dataDir });
    try {
      bytes = await store.dumpDataDir!();
    } finally {
      await store.close();
    }
    source = 'the stopped store';
  }
  writeWhole(target, bytes);
  out.write(`Backed up ${dataDir} (from ${source}) to ${target} (${bytes.byteLength} bytes).\n`);
}

function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

/**
 * `sideline restore --from FILE [--force]`: the server must be stopped (the lock says so). A
 * non-empty DATA_DIR is only replaced with --force, and then only its store (pgdata); files beside
 * it (attachments, outgoing mail) are left as they are.
 */
export async function runRestore(config: Config, from: string | undefined, force: boolean, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (config.databaseUrl) throw new ConfigError(POSTGRES_RESTORE);
  if (!from) throw new ConfigError('restore needs --from FILE');
  const dataDir = resolve(config.dataDir);
  const source = resolve(from);
  if (!existsSync(source)) throw new ConfigError(`no backup file at ${source}`);
  const bytes = readFileSync(source);
  if (bytes.byteLength < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw new ConfigError(`${source} is not a Sideline backup (a gzipped tarball)`);
  const empty = isEmptyDir(dataDir);
  if (!empty && !force) {
    throw new ConfigError(`DATA_DIR ${dataDir} is not empty; stop the server and pass --force to replace its store with the backup`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = lockDataDir(dataDir);
  const pgdata = join(dataDir, 'pgdata');
  try {
    rmSync(pgdata, { recursive: true, force: true });
    try {
      const pglite = await PGlite.create(pgdata, { loadDataDir: new Blob([bytes]) });
      await pglite.query('select 1');
      await pglite.close();
    } catch (error) {
      rmSync(pgdata, { recursive: true, force: true });
      throw new ConfigError(`${source} could not be restored: ${error instanceof Error ? error.message : String(error)}`);
    }
  } finally {
    lock.release();
  }
  out.write(`Restored ${source} into ${dataDir}. Start the server on it; pending migrations run at start.\n`);
}
