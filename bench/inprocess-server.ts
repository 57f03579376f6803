/**
 * Sideline built in-process with buildApp(), so the benchmark can switch the authentication cache
 * (AuthenticatorOptions.cacheEnabled), which the real server does not read from the environment.
 * Otherwise configured as `sideline serve` is for the benchmark: warn-level logs, relay off.
 *
 * env: PORT, AUTH_CACHE=on|off, READ_CACHE=on|off (off: nothing kept, see below), DATABASE_URL (PostgreSQL) or DATA_DIR (PGlite),
 *      SIDELINE_ADMIN_EMAIL, SIDELINE_ADMIN_PASSWORD,
 *      LOOP_STATS=1: on SIGUSR2, print one JSON line of event-loop and per-connection statistics
 *      since the previous SIGUSR2 (bench/loop-probe.ts uses it)
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { buildApp } from '../src/app.js';
import { ensureAccountAndAdmin } from '../src/accounts/accounts.js';
import { loadConfig } from '../src/config.js';
import { NO_READ_CACHE } from '../src/db/read-cache.js';
import { NO_RENDERED_ROWS } from '../src/db/rendered-rows.js';
import { migrateToLatest, openStore } from '../src/db/store.js';
import { appOptionsFor } from '../src/runtime.js';

const env = process.env;
const cacheEnabled = (env['AUTH_CACHE'] ?? 'on') !== 'off';
// The embedded store's cache of Show/List results, and the conversations' JSON kept by row version
// (both stores); off shows what a read costs when nothing is kept.
const readCacheEnabled = (env['READ_CACHE'] ?? 'on') !== 'off';
const databaseUrl = env['DATABASE_URL'] || undefined;
const store = await openStore({ databaseUrl, dataDir: databaseUrl ? undefined : env['DATA_DIR'] });
await migrateToLatest(store.db);
await ensureAccountAndAdmin(store.db, { adminEmail: env['SIDELINE_ADMIN_EMAIL'], adminPassword: env['SIDELINE_ADMIN_PASSWORD'] });

const config = loadConfig({ ...env, LOG_LEVEL: 'warn', ATTACHMENT_STORE: 'database' });
const app = await buildApp({
  ...appOptionsFor(config, readCacheEnabled ? store : { ...store, reads: NO_READ_CACHE }),
  ...(readCacheEnabled ? {} : { rendered: NO_RENDERED_ROWS }),
  auth: { cacheEnabled },
});

if (env['LOOP_STATS'] === '1') {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let elu = performance.eventLoopUtilization();
  let perSocket = new Map<object, number>();
  app.server.on('request', (req: import('node:http').IncomingMessage) => perSocket.set(req.socket, (perSocket.get(req.socket) ?? 0) + 1));
  process.on('SIGUSR2', () => {
    const counts = [...perSocket.values()].sort((a, b) => a - b);
    const used = performance.eventLoopUtilization(elu);
    process.stdout.write(
      `${JSON.stringify({
        eventLoopUtilization: used.utilization,
        loopDelayP50Ms: delay.percentile(50) / 1e6,
        loopDelayP99Ms: delay.percentile(99) / 1e6,
        loopDelayMaxMs: delay.max / 1e6,
        requests: counts.reduce((a, b) => a + b, 0),
        connections: counts.length,
        perConnection: counts,
      })}\n`,
    );
    delay.reset();
    elu = performance.eventLoopUtilization();
    perSocket = new Map();
  });
}

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  try {
    await app.close();
    await store.close();
  } finally {
    process.exit(0);
  }
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

await app.listen({ port: Number(env['PORT'] ?? '0'), host: '127.0.0.1' });
