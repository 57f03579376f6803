/**
 * The PostgreSQL store's pool (src/db/prepared-pool.ts): a transaction's begin is written with the
 * statement after it, in one write, and the transaction is as it was (its settings, its rollback);
 * a transaction's last statement may carry its commit (sendLast), and then nothing can follow it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/db/store.js';
import { createTempDatabase, STORE_KIND } from '../helpers/app.js';
import { countSocketWrites } from '../helpers/socket-writes.js';
import { sendLast } from '../../src/db/send-together.js';

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

describe('PostgreSQL pool: the commit sent with the last statement', { skip: STORE_KIND !== 'postgres' && 'PostgreSQL only' }, () => {
  let database: { url: string; drop(): Promise<void> };
  let store: Store;
  before(async () => {
    database = await createTempDatabase(process.env['DATABASE_URL']!, `sideline_commit_${process.pid}`);
    store = await openStore({ databaseUrl: database.url, poolSize: 1 });
    await sql`create table last_items (id int primary key)`.execute(store.db);
    // A check PostgreSQL makes at commit, not at the statement: a commit that fails.
    await sql`create table last_parents (id int primary key)`.execute(store.db);
    await sql`create table last_children (parent int references last_parents (id) deferrable initially deferred)`.execute(store.db);
  });
  after(async () => {
    await store?.close();
    await database?.drop();
  });

  const ids = async (): Promise<number[]> => (await sql<{ id: number }>`select id from last_items order by id`.execute(store.db)).rows.map((r) => r.id);
  const insert = (trx: typeof store.db, id: number) => sendLast(trx, sql<{ id: number }>`insert into last_items (id) values (${id}) returning id`.compile(trx));

  it('writes begin, the statement and commit together: a transaction of one statement is one write', async () => {
    await store.db.transaction().execute((trx) => insert(trx, 1)); // prepared now
    const writes = countSocketWrites();
    let rows: Array<{ id: number }>;
    try {
      rows = await store.db.transaction().execute((trx) => insert(trx, 2));
    } finally {
      writes.stop();
    }
    assert.equal(writes.count(), 1);
    assert.deepEqual(rows, [{ id: 2 }]);
    assert.deepEqual(await ids(), [1, 2]);
    const two = await socketWrites(() =>
      store.db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        return insert(trx, 3);
      }),
    );
    assert.equal(two, 2, 'begin with the first statement, the last with the commit');
  });

  it('a failing last statement writes nothing, reports its own error, and the connection serves the next transaction', async () => {
    await assert.rejects(
      store.db.transaction().execute(async (trx) => {
        await sql`insert into last_items (id) values (10)`.execute(trx);
        return insert(trx, 1); // a duplicate key
      }),
      (error: { code?: string }) => error.code === '23505',
    );
    assert.deepEqual(await ids(), [1, 2, 3], 'the row written before it was rolled back with it');
    await store.db.transaction().execute((trx) => insert(trx, 11));
    assert.deepEqual(await ids(), [1, 2, 3, 11]);
  });

  it('a commit that fails fails the statement', async () => {
    await assert.rejects(
      store.db.transaction().execute((trx) => sendLast(trx, sql`insert into last_children (parent) values (99)`.compile(trx))),
      (error: { code?: string }) => error.code === '23503',
    );
    assert.deepEqual((await sql<{ n: number }>`select count(*)::int as n from last_children`.execute(store.db)).rows, [{ n: 0 }]);
  });

  it('refuses a statement after the last one: it never runs outside the transaction', async () => {
    await assert.rejects(
      store.db.transaction().execute(async (trx) => {
        await insert(trx, 20);
        await sql`insert into last_items (id) values (21)`.execute(trx);
      }),
      /after its transaction's last statement/,
    );
    assert.deepEqual(await ids(), [1, 2, 3, 11, 20], 'the last statement committed; the one after it never ran');
    await store.db.transaction().execute((trx) => insert(trx, 22));
    assert.deepEqual(await ids(), [1, 2, 3, 11, 20, 22]);
  });
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
