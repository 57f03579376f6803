/**
 * The PostgreSQL store's pool (src/db/prepared-pool.ts): a transaction's begin is written with the
 * statement after it, in one write, and the transaction is as it was (its settings, its rollback).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/db/store.js';
import { createTempDatabase, STORE_KIND } from '../helpers/app.js';
import { countSocketWrites } from '../helpers/socket-writes.js';

describe('PostgreSQL pool: begin sent with the first statement', { skip: STORE_KIND !== 'postgres' && 'PostgreSQL only' }, () => {
  let database: { url: string; drop(): Promise<void> };
  let store: Store;
  before(async () => {
    database = await createTempDatabase(process.env['DATABASE_URL']!, `sideline_begin_${process.pid}`);
    store = await openStore({ databaseUrl: database.url, poolSize: 1 });
    await sql`create table begin_items (id int primary key)`.execute(store.db);
  });
  after(async () => {
    await store?.close();
    await database?.drop();
  });

  /** How many times the process wrote to a socket while `work` ran (one connection, nothing else on the wire). */
  async function socketWrites(work: () => Promise<unknown>): Promise<number> {
    const writes = countSocketWrites();
    try {
      await work();
    } finally {
      writes.stop();
    }
    return writes.count();
  }

  it('writes begin and the first statement together: a transaction of one statement is two writes, not three', async () => {
    const transaction = () => store.db.transaction().execute((trx) => sql`select 1 as one`.execute(trx));
    await transaction(); // the statement is prepared now; its later runs are a bind and an execute
    assert.equal(await socketWrites(transaction), 2);
    assert.equal(await socketWrites(() => sql`select 1 as one`.execute(store.db)), 1, 'a statement outside a transaction is one write');
  });

  it('runs the statements inside the transaction begun: a rollback takes them back, settings hold', async () => {
    await assert.rejects(
      store.db.transaction().execute(async (trx) => {
        await sql`insert into begin_items (id) values (1)`.execute(trx);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.deepEqual((await sql<{ n: number }>`select count(*)::int as n from begin_items`.execute(store.db)).rows, [{ n: 0 }]);

    const level = await store.db
      .transaction()
      .setIsolationLevel('serializable')
      .execute((trx) => sql<{ level: string }>`select current_setting('transaction_isolation') as level`.execute(trx));
    assert.deepEqual(level.rows, [{ level: 'serializable' }]);
  });

  it('reports a first statement that fails, and the connection serves the next transaction', async () => {
    await sql`insert into begin_items (id) values (2)`.execute(store.db);
    await assert.rejects(
      store.db.transaction().execute((trx) => sql`insert into begin_items (id) values (2)`.execute(trx)),
      (error: { code?: string }) => error.code === '23505',
    );
    const ids = await store.db.transaction().execute((trx) => sql<{ id: number }>`select id from begin_items order by id`.execute(trx));
    assert.deepEqual(ids.rows, [{ id: 2 }]);
  });
});
