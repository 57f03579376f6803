/**
 * `npm run test:faults`: the fault harness of Sideline. Three parts, each against real server
 * processes (`node --import tsx src/main.ts serve|relay`):
 *   1. crash: SIGKILL under concurrent creates, restart, every answered create whole (PGlite and PostgreSQL);
 *   2. two API processes and two relays on one PostgreSQL: every request answered right, every
 *      outbox row delivered exactly once (a loopback SMTP sink counts Message-IDs);
 *   3. bad input: a generated corpus of malformed and hostile requests against every endpoint;
 *   4. outage: a private PostgreSQL restarted and killed under load (writes kept, relays drain exactly once);
 *   5. slowflood: hundreds of slow sockets from one address beside normal traffic (still answered);
 *   6. loginflood: wrong-password floods from several addresses beside real logins (429, real logins pass).
 * FAULTS_SHORT=1 is the short form CI runs. FAULTS_ONLY=crash,multi,badinput,outage,slowflood,loginflood picks parts.
 * The last line is `N passed, M failed` (fault checks); the exit code is non-zero on any failure.
 */
import { crashPart } from './parts/crash.js';
import { multiPart } from './parts/multi.js';
import { badInputPart } from './parts/badinput.js';
import { outagePart } from './parts/outage.js';
import { slowFloodPart } from './parts/slowflood.js';
import { loginFloodPart } from './parts/loginflood.js';
import { destroyAllClusters } from './lib/private-pg.js';
import { killAllChildren } from './lib/procs.js';
import { dropAllCreated, postgresReachable, PG_SERVER_URL } from './lib/pg.js';
import { allResults, check, log, summaryLine } from './lib/report.js';
import { removeTempDirs } from './lib/sideline.js';

const SHORT = process.env['FAULTS_SHORT'] === '1';
const ONLY = new Set((process.env['FAULTS_ONLY'] ?? 'crash,multi,badinput,outage,slowflood,loginflood').split(',').map((s) => s.trim()).filter(Boolean));
const STORES = new Set((process.env['FAULTS_STORES'] ?? 'pglite,postgres').split(',').map((s) => s.trim()));

async function part(name: string, fn: () => Promise<void>): Promise<void> {
  const started = Date.now();
  try {
    await fn();
  } catch (error) {
    check(`${name}: ran to the end`, false, 'the part threw', [error instanceof Error ? (error.stack ?? error.message) : String(error)]);
  } finally {
    killAllChildren();
    log(`${name} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

/** The whole run is bounded: past this, whatever is running is killed and the run fails. */
const LIMIT_MS = Number(process.env['FAULTS_LIMIT_S'] ?? (SHORT ? 480 : 1800)) * 1000;

function watchdog(): NodeJS.Timeout {
  const timer = setTimeout(() => {
    check('harness: finished within its time bound', false, `still running after ${LIMIT_MS / 1000} s; stopped`);
    killAllChildren();
    void Promise.all([destroyAllClusters(), dropAllCreated()]).finally(() => {
      removeTempDirs();
      process.stdout.write(`${summaryLine()}\n`);
      process.exit(1);
    });
  }, LIMIT_MS);
  timer.unref();
  return timer;
}

async function main(): Promise<void> {
  const started = Date.now();
  const timer = watchdog();
  log(`Sideline fault harness, ${SHORT ? 'short form (FAULTS_SHORT=1)' : 'full form'}; parts: ${[...ONLY].join(', ')}`);
  const pgUp = await postgresReachable();
  check('environment: PostgreSQL answers', pgUp, PG_SERVER_URL);
  try {
    if (ONLY.has('crash')) {
      if (STORES.has('pglite')) await part('crash/PGlite', () => crashPart('pglite', { short: SHORT }));
      if (STORES.has('postgres') && pgUp) await part('crash/PostgreSQL', () => crashPart('postgres', { short: SHORT }));
    }
    if (ONLY.has('multi') && pgUp) await part('multi', () => multiPart({ short: SHORT }));
    if (ONLY.has('badinput')) {
      if (STORES.has('postgres') && pgUp) await part('badinput/PostgreSQL', () => badInputPart('postgres', { short: SHORT }));
      if (STORES.has('pglite') && !SHORT) await part('badinput/PGlite', () => badInputPart('pglite', { short: SHORT }));
    }
    // A private cluster of its own: not FAULTS_PG_URL, so it runs whether or not that one answers.
    if (ONLY.has('outage') && STORES.has('postgres')) await part('outage', () => outagePart({ short: SHORT }));
    // Both floods are about the HTTP edge and the login throttle, not the store: the embedded one serves.
    if (ONLY.has('slowflood')) await part('slowflood', () => slowFloodPart({ short: SHORT }));
    if (ONLY.has('loginflood')) await part('loginflood', () => loginFloodPart({ short: SHORT }));
  } finally {
    killAllChildren();
    await destroyAllClusters();
    await dropAllCreated();
    removeTempDirs();
  }
  clearTimeout(timer);
  const failed = allResults().filter((r) => !r.ok);
  process.stdout.write(`\nFault harness finished in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
  if (failed.length) {
    process.stdout.write('Failed checks:\n');
    for (const f of failed) process.stdout.write(`  - ${f.name}${f.detail ? `: ${f.detail}` : ''}\n`);
  }
  process.stdout.write(`${summaryLine()}\n`);
  process.exitCode = failed.length ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAllChildren();
    void Promise.all([destroyAllClusters(), dropAllCreated()]).finally(() => {
      removeTempDirs();
      process.exit(130);
    });
  });
}

main().catch((error: unknown) => {
  killAllChildren();
  process.stdout.write(`harness error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.stdout.write(`${summaryLine()}\n`);
  process.exitCode = 1;
});
