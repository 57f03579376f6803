/**
 * Diagnostic (not part of `npm run bench`): why do PGlite's tail latencies explode under load?
 * Runs Show at 64 connections against the in-process server on each store and prints, from inside
 * the server, event-loop utilisation, event-loop delay and how evenly the connections were served.
 *
 *   node --import tsx bench/loop-probe.ts            (BENCH_DURATION seconds per store, default 10)
 */
import { createFixtures } from './lib/fixtures.js';
import { runLoad } from './lib/load.js';
import { ADMIN_AUTH, HOST, api, startSideline } from './lib/sideline.js';
import { freePort, killAllChildren, spawnTs, waitForHttp } from './lib/processes.js';
import { createStore, postgresReachable } from './lib/stores.js';
import type { StoreKind } from '../src/db/store.js';

const duration = Number(process.env['BENCH_DURATION'] ?? '10');
const connections = Number(process.env['BENCH_CONNECTIONS'] ?? '64');

async function probe(kind: StoreKind): Promise<void> {
  const store = await createStore(kind, 'probe');
  try {
    const serve = await startSideline(store);
    let fixtures;
    try {
      fixtures = await createFixtures(serve.port);
    } finally {
      await serve.stop();
    }
    const port = await freePort();
    const child = spawnTs('in-process (loop stats)', 'bench/inprocess-server.ts', [], {
      ...store.env,
      PORT: String(port),
      LOOP_STATS: '1',
      SIDELINE_ADMIN_EMAIL: 'bench-admin@example.com',
      SIDELINE_ADMIN_PASSWORD: 'bench-password-0123',
    });
    try {
      await waitForHttp(child, port);
      await api(port, 'GET', '/api/v2/users/me.json', undefined, ADMIN_AUTH);
      const stats = async () => {
        const before = child.stdout().length;
        child.proc.kill('SIGUSR2');
        while (child.stdout().length === before || !child.stdout().endsWith('\n')) await new Promise((r) => setTimeout(r, 20));
        return JSON.parse(child.stdout().slice(before).trim().split('\n').pop()!);
      };
      const load = {
        url: `http://127.0.0.1:${port}`,
        method: 'GET' as const,
        paths: [fixtures.show.path],
        headers: { authorization: ADMIN_AUTH, host: `${HOST}:${port}` },
        connections,
        durationSeconds: duration,
        warmupSeconds: 0,
      };
      await runLoad({ ...load, durationSeconds: 2 }, { serverPid: child.pid }); // warm up
      await stats();
      const result = await runLoad(load, { serverPid: child.pid });
      const s = await stats();
      const per = s.perConnection as number[];
      process.stdout.write(
        `${store.label}: ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, max ${result.max.toFixed(0)} ms\n` +
          `  event loop: utilisation ${(s.eventLoopUtilization * 100).toFixed(0)}%, delay p50 ${s.loopDelayP50Ms.toFixed(1)} ms, p99 ${s.loopDelayP99Ms.toFixed(1)} ms, max ${s.loopDelayMaxMs.toFixed(0)} ms\n` +
          `  requests per connection (${per.length} sockets seen, ${connections} load connections): min ${per[0]}, median ${per[Math.floor(per.length / 2)]}, max ${per[per.length - 1]}\n`,
      );
    } finally {
      await child.stop();
    }
  } finally {
    await store.destroy();
  }
}

try {
  await probe('pglite');
  const problem = await postgresReachable();
  if (problem) process.stdout.write(`PostgreSQL skipped: ${problem}\n`);
  else await probe('postgres');
} finally {
  killAllChildren();
}
