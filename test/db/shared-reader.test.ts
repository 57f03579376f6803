/**
 * SharedReader (src/db/shared-reader.ts), PostgreSQL's connection for short hot reads: the reads of
 * one turn of the event loop leave in one write and each gets its own answer, one failing fails
 * alone, and a lost connection is replaced by the next read.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/db/store.js';
import { isDatabaseUnavailable } from '../../src/db/unavailable.js';
import { createTempDatabase } from '../helpers/app.js';
import { countSocketWrites } from '../helpers/socket-writes.js';

const serverUrl = process.env['DATABASE_URL'];

describe('SharedReader: short reads sharing one PostgreSQL connection', { skip: serverUrl ? false : 'PostgreSQL only (DATABASE_URL): the embedded store reads on its own thread' }, () => {
  let store: Store;
  let drop: () => Promise<void>;
  before(async () => {
    const database = await createTempDatabase(serverUrl!, `sideline_reader_${process.pid}`);
    drop = database.drop;
    store = await openStore({ databaseUrl: database.url, poolSize: 2 });
  });
  after(async () => {
    await store.close();
    await drop();
  });

  const backendPid = async () => Number((await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(store.hotReads)).rows[0]!.pid);

  it('writes the reads given in one turn in one write, and answers each its own', async () => {
    await backendPid(); // connected before counting
    const writes = countSocketWrites();
    let answers: number[];
    try {
      answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => Number((await sql<{ n: number }>`select ${i}::int as n`.execute(store.hotReads)).rows[0]!.n)));
    } finally {
      writes.stop();
    }
    assert.deepEqual(answers, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(writes.count(), 1);
  });

  it('fails a failing read alone: the reads beside it in the same write are answered', async () => {
    const [before, failing, behind] = await Promise.allSettled([
      sql<{ n: number }>`select 1 as n`.execute(store.hotReads),
      sql<{ n: number }>`select 1 / 0 as n`.execute(store.hotReads),
      sql<{ n: number }>`select 3 as n`.execute(store.hotReads),
    ]);
    assert.equal(before.status, 'fulfilled');
    assert.equal(failing.status, 'rejected');
    assert.equal((failing as PromiseRejectedResult).reason.code, '22012');
    assert.equal(behind.status === 'fulfilled' && Number(behind.value.rows[0]!.n), 3);
  });

  it('opens a new connection for the next read once its connection is lost; reads lost with it fail as the database being away', async () => {
    const pid = await backendPid();
    await sql`select pg_terminate_backend(${pid})`.execute(store.db);
    let next: number | undefined;
    for (let attempt = 0; attempt < 100 && next === undefined; attempt++) {
      try {
        next = await backendPid();
      } catch (error) {
        assert.ok(isDatabaseUnavailable(error), `a read on the lost connection fails as unavailable: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    assert.ok(next !== undefined && next !== pid, `a new backend answers (was ${pid}, now ${next})`);
  });
});
