#!/usr/bin/env node
/**
 * Runs before `npm start` (and `npm run sideline` / `migrate`): compiles the server only when a source
 * is newer than the build, so a start after `npm install` (which builds, see `prepare`) answers in a
 * second or two instead of waiting 15–30 s for tsc. Plain JavaScript, because it runs before any build.
 *
 * Stale means: dist/main.js is missing, or any file under src/ or a tsconfig is newer than it. tsc
 * writes every output on each successful build and none on a failed one (noEmitOnError), so the mtime
 * of dist/main.js is the time of the last good build.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const BUILD_OUTPUT = 'dist/main.js';
const BUILD_INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json'];

/** The newest modification time under `path` (a file or a directory), or 0 when it does not exist. */
function newestMtime(path) {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    return 0;
  }
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

const root = process.cwd();
const built = newestMtime(join(root, BUILD_OUTPUT));
const changed = Math.max(...BUILD_INPUTS.map((input) => newestMtime(join(root, input))));
if (built === 0 || changed > built) {
  process.stderr.write(built === 0 ? 'sideline: no build yet, building the server (npm run build:server)\n' : 'sideline: sources changed since the last build, rebuilding the server (npm run build:server)\n');
  const result = spawnSync('npm', ['run', '--silent', 'build:server'], { cwd: root, stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
