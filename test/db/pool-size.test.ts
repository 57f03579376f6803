/**
 * DATABASE_POOL_SIZE: how many PostgreSQL connections one process keeps open at most. Parsed and
 * bounded by the config; on PostgreSQL, a store opened with it never holds more connections.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { ConfigError, loadConfig } from '../../src/config.js';
import { openStore } from '../../src/db/store.js';
import { createTempDatabase, STORE_KIND } from '../helpers/app.js';

describe('DATABASE_POOL_SIZE', () => {
  it('defaults to 10 and takes a whole number from 1 to 500', () => {
    assert.equal(loadConfig({}).databasePoolSize, 10);
    assert.equal(loadConfig({ DATABASE_POOL_SIZE: '32' }).databasePoolSize, 32);
    for (const bad of ['0', '501', 'ten', '-3', '2.5']) {
      assert.throws(() => loadConfig({ DATABASE_POOL_SIZE: bad }), ConfigError, bad);
    }
  });

  it('bounds the connections a PostgreSQL store opens, queueing the rest', { skip: STORE_KIND !== 'postgres' && 'PostgreSQL only' }, async () => {
    const database = await createTempDatabase(process.env['DATABASE_URL']!, `sideline_pool_${process.pid}`);
    const { databasePoolSize } = loadConfig({ DATABASE_URL: database.url, DATABASE_POOL_SIZE: '2' });
    const store = await openStore({ databaseUrl: database.url, poolSize: databasePoolSize });
    try {
      let most = 0;
      let queued = 0;
      const watch = setInterval(() => {
        const stats = store.poolStats();
        most = Math.max(most, stats.total);
        queued = Math.max(queued, stats.waiting);
      }, 5);
      const backends = await Promise.all(
        Array.from({ length: 6 }, () => sql<{ pid: number }>`select pg_backend_pid() as pid, pg_sleep(0.1)`.execute(store.db)),
      );
      clearInterval(watch);
      const pids = new Set(backends.map((r) => r.rows[0]!.pid));
      assert.equal(pids.size, 2, `six queries ran on ${pids.size} server connections`);
      assert.ok(most <= 2, `the pool opened ${most} connections`);
      assert.ok(queued > 0, 'the queries beyond the pool waited for a connection');
    } finally {
      await store.close();
      await database.drop();
    }
  });
});
