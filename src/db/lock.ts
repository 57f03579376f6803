import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export class DataDirLockedError extends Error {}

export interface DataDirLock {
  release(): void;
}

interface Holder {
  /** The file's bytes, to tell later whether it is still the same lock. */
  raw: string;
  pid?: number;
  host?: string;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Creates `path` with `content` only if it does not exist, atomically and whole: the content is
 * written to a private file first and then hard-linked into place (link fails if the name is
 * taken), so nobody ever reads a half-written lock and mistakes it for a stale one.
 */
function createExclusive(path: string, content: string): boolean {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, content, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temp);
  }
}

function readHolder(path: string): Holder | null {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const parsed = JSON.parse(raw) as { pid?: unknown; host?: unknown };
    return {
      raw,
      ...(typeof parsed.pid === 'number' ? { pid: parsed.pid } : {}),
      ...(typeof parsed.host === 'string' ? { host: parsed.host } : {}),
    };
  } catch {
    return { raw }; // unreadable: stale
  }
}

/** Our own pid counts as gone: a container restarted with the same pid, or a store reopened in this process. */
function isLive(holder: Holder): boolean {
  return typeof holder.pid === 'number' && holder.pid !== process.pid && processIsAlive(holder.pid);
}

function removeIfSame(path: string, raw: string): void {
  if (readHolder(path)?.raw !== raw) return;
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * PGlite has no lock of its own on its data directory, and two processes writing one directory
 * corrupt it. We take an exclusive lock file (created whole, atomically; see createExclusive).
 *
 * A stale lock (its process is gone) is taken over, and two processes started at once must not
 * both win: removing the stale file and creating ours are separate steps, so a slow process could
 * otherwise remove the lock another one has just created. Removal therefore happens only under a
 * second exclusive file, `sideline.lock.takeover`, and only if the lock file still holds the very
 * bytes judged stale; whoever then creates the lock file first wins, the others see a live holder.
 * A takeover file whose process died is removed in turn (that needs a crash within the few
 * microseconds a takeover lasts, and only then can the guarantee weaken).
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const lockPath = join(dir, 'sideline.lock');
  const takeoverPath = `${lockPath}.takeover`;
  const me = JSON.stringify({ pid: process.pid, host: hostname(), started_at: new Date().toISOString(), nonce: randomBytes(6).toString('hex') });
  for (let attempt = 0; attempt < 200; attempt++) {
    if (createExclusive(lockPath, me)) {
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          removeIfSame(lockPath, me);
        },
      };
    }
    const holder = readHolder(lockPath);
    if (!holder) continue; // released meanwhile: try again
    const sameHost = holder.host === undefined || holder.host === hostname();
    if (typeof holder.pid === 'number' && !sameHost) {
      throw new DataDirLockedError(
        `The data directory ${dir} is locked by pid ${holder.pid} on host ${holder.host}; ` +
          `remove ${lockPath} only if that process is gone.`,
      );
    }
    if (isLive(holder)) {
      throw new DataDirLockedError(
        `The data directory ${dir} is in use by another Sideline process (pid ${holder.pid}). ` +
          'Stop that process, or give this one another DATA_DIR (or a DATABASE_URL to share PostgreSQL).',
      );
    }
    if (!createExclusive(takeoverPath, me)) {
      const taker = readHolder(takeoverPath);
      if (taker && !isLive(taker)) removeIfSame(takeoverPath, taker.raw);
      else pause(5);
      continue;
    }
    try {
      removeIfSame(lockPath, holder.raw);
    } finally {
      removeIfSame(takeoverPath, me);
    }
  }
  throw new DataDirLockedError(`Could not lock the data directory ${dir}`);
}
