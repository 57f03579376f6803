/**
 * A child process for the data directory lock test: on `try DIR` it calls lockDataDir(DIR) and
 * answers `won` or `locked`; on `release` it lets go of what it holds. Kept alive across rounds so
 * that every round is a real race between separate processes, not between process start-ups.
 */
import { createInterface } from 'node:readline';
import { DataDirLockedError, lockDataDir, type DataDirLock } from '../../src/db/lock.js';

let held: DataDirLock | null = null;
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.startsWith('try ')) {
    try {
      held = lockDataDir(line.slice(4));
      process.stdout.write('won\n');
    } catch (error) {
      process.stdout.write(error instanceof DataDirLockedError ? 'locked\n' : `error ${String(error)}\n`);
    }
  } else if (line === 'release') {
    held?.release();
    held = null;
    process.stdout.write('released\n');
  }
});
lines.on('close', () => process.exit(0));
process.stdout.write('ready\n');
