import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export class DataDirLockedError extends Error {}

export interface DataDirLock {
  release(): void;
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
 * PGlite has no lock of its own on its data directory, and two processes writing one directory
 * corrupt it. We take an exclusive lock file; a stale one (its process is gone) is taken over.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const lockPath = join(dir, 'sideline.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), started_at: new Date().toISOString() }));
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            unlinkSync(lockPath);
          } catch {
            /* already gone */
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder: { pid?: number; host?: string } = {};
      try {
        holder = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid?: number; host?: string };
      } catch {
        /* unreadable lock file: treat as stale */
      }
      const sameHost = holder.host === undefined || holder.host === hostname();
      if (typeof holder.pid === 'number' && sameHost && processIsAlive(holder.pid) && holder.pid !== process.pid) {
        throw new DataDirLockedError(
          `The data directory ${dir} is in use by another Sideline process (pid ${holder.pid}). ` +
            'Stop that process, or give this one another DATA_DIR (or a DATABASE_URL to share PostgreSQL).',
        );
      }
      if (typeof holder.pid === 'number' && !sameHost) {
        throw new DataDirLockedError(
          `The data directory ${dir} is locked by pid ${holder.pid} on host ${holder.host}; ` +
            `remove ${lockPath} only if that process is gone.`,
        );
      }
      unlinkSync(lockPath);
    }
  }
  throw new DataDirLockedError(`Could not lock the data directory ${dir}`);
}
