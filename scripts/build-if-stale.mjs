#!/usr/bin/env node
/**
 * Runs before `npm start` (and `npm run sideline` / `migrate`): builds the server or the console only
 * when one of its sources is newer than its build, so a start after `npm install` (which builds, see `prepare`) answers in a
 * second or two instead of waiting 15–30 s for tsc. Plain JavaScript, because it runs before any build.
 *
 * Stale means: a part's output (dist/main.js, console/dist/index.html) is missing, or one of its
 * sources is newer. tsc writes every output on a successful build and none on a failed one
 * (noEmitOnError), and Vite writes index.html last, so each output's mtime is its last good build.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Each part of the build: what it writes, what it is made from, and the npm script that makes it. */
const TARGETS = [
  { name: 'server', output: 'dist/main.js', inputs: ['src', 'tsconfig.json', 'tsconfig.build.json'], script: 'build:server' },
  { name: 'console', output: 'console/dist/index.html', inputs: ['console/src', 'console/index.html', 'console/vite.config.ts', 'console/tsconfig.json'], script: 'build:console' },
];

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

/** Builds each part whose output is missing or older than its sources; exits the process if a build fails. */
export function buildIfStale(root) {
  for (const target of TARGETS) {
    const built = newestMtime(join(root, target.output));
    const changed = Math.max(...target.inputs.map((input) => newestMtime(join(root, input))));
    // A checkout without that part (no sources at all) has nothing to build.
    if (changed === 0 || (built !== 0 && changed <= built)) continue;
    process.stderr.write(
      built === 0
        ? `sideline: no build yet of the ${target.name}, building it (npm run ${target.script})\n`
        : `sideline: the ${target.name}'s sources changed since the last build, rebuilding it (npm run ${target.script})\n`,
    );
    const result = spawnSync('npm', ['run', '--silent', target.script], { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) process.exit(result.status ?? 1);
  }
}

// Run as a script (node scripts/build-if-stale.mjs): check the project in the working directory.
if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) buildIfStale(process.cwd());
