import { join, resolve } from 'node:path';
import { startEmbeddedDatabase, startInProcessDatabase, type EmbeddedDatabase } from './embedded-database.js';
import { lockDataDir, type DataDirLock } from './lock.js';
import { BUILT_STORE_TEMPLATE, drawInstallSecrets, seedFromTemplate } from './store-template.js';

/**
 * Added to PGlite's own start parameters: 32 MB of shared buffers instead of PostgreSQL's 128 MB: the
 * WebAssembly build zeroes the whole shared memory at start, which took 0.35 s of every start
 * at 128 MB (0.05 s at 32 MB). Pages beyond it are read from the data directory through the
 * operating system's cache; a store that outgrows that belongs on PostgreSQL (DATABASE_URL).
 */
const EMBEDDED_START_PARAMS = ['-c', 'shared_buffers=32MB'];

/** An embedded store on its way up: its directory (locked), and PostgreSQL starting on its thread. */
export interface EmbeddedStart {
  /** The resolved data directory; undefined: in memory. */
  dir: string | undefined;
  /** Resolves once PostgreSQL has started and this copy has its own secrets; rejects if it could not. */
  database: Promise<EmbeddedDatabase>;
  releaseLock(): void;
}

/**
 * Locks the data directory (throwing DataDirLockedError at once if another process holds it),
 * copies the store template into it when it has no store yet, and starts PostgreSQL. Kept apart
 * from store.ts (and light in what it imports) so that `serve` can call it first thing (main.ts).
 */
export function startEmbedded(dataDir: string | undefined, template: string | undefined = BUILT_STORE_TEMPLATE): EmbeddedStart {
  const dir = dataDir ? resolve(dataDir) : undefined;
  const lock: DataDirLock | undefined = dir ? lockDataDir(dir) : undefined;
  let lockHeld = lock !== undefined;
  const releaseLock = () => {
    if (lockHeld) lock?.release();
    lockHeld = false;
  };
  const database = (async () => {
    if (!dir) return startInProcessDatabase(EMBEDDED_START_PARAMS);
    seedFromTemplate(dir, template);
    const started = await startEmbeddedDatabase({ dataDir: join(dir, 'pgdata'), startParams: EMBEDDED_START_PARAMS });
    await drawInstallSecrets(dir, started);
    return started;
  })();
  database.catch(() => releaseLock());
  return { dir, database, releaseLock };
}
