/**
 * sendTogether (src/db/send-together.ts): queries handed to one connection at once, answered in
 * order, each as its own statement, on the store the suite runs on; and on PostgreSQL, written
 * before the answers come (one round trip), a read behind a lock seeing the lock holder's commit.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sql } from 'kysely';
import { sendTogether } from '../../src/db/send-together.js';
import { openStore, type Store } from '../../src/db/store.js';
import { createTempDatabase, startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';
import { countSocketWrites } from '../helpers/socket-writes.js';

describe(`sendTogether: queries sent at once, answered in order (${STORE_KIND})`, () => {
  let t: TestApp;
  // Tables of the test's own, outside the app's schema types.
  let db: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  before(async () => {
    t = await startTestApp();
    db = t.db;
    await sql`create table together_items (id int primary key, label text not null, made_at timestamptz not null default now())`.execute(t.db);
  });
  after(async () => t.close());

  it("gives each query's rows in the order given, as the drivers type them, in a transaction and outside one", async () => {
    await db.insertInto('together_items').values({ id: 1, label: 'one' }).execute();
    const outside: any = await sendTogether( // eslint-disable-line @typescript-eslint/no-explicit-any
      db, db.selectFrom('together_items').selectAll(), db.selectFrom('together_items').select('label').where('id', '=', 2));
    assert.equal(outside[0].length, 1);
    assert.equal(outside[0][0].label, 'one');
    assert.ok(outside[0][0].made_at instanceof Date, 'a timestamp as a Date');
    assert.deepEqual(outside[1], []);
    const inside = await db.transaction().execute((trx: any) => sendTogether(trx, trx.selectFrom('together_items').select('id'), trx.selectNoFrom(sql<number>`2`.as('two')))); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(inside, [[{ id: 1 }], [{ two: 2 }]]);
  });

  it('runs them in the order sent: a read sent behind a write sees it, every time', async () => {
    const seen = await db.transaction().execute(async (trx: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const counts: number[] = [];
      for (let id = 10; id < 30; id++) {
        const [, [row]]: any = await sendTogether( // eslint-disable-line @typescript-eslint/no-explicit-any

          trx,
          trx.insertInto('together_items').values({ id, label: `item ${id}` }),
          trx.selectFrom('together_items').select((eb: any) => eb.fn.countAll().as('n')).where('id', '>=', 10), // eslint-disable-line @typescript-eslint/no-explicit-any
        );
        counts.push(Number(row.n));
      }
      return counts;
    });
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('reports the first failure; the transaction is rolled back and the connection serves the next one', async () => {
    await assert.rejects(
      db.transaction().execute((trx: any) => // eslint-disable-line @typescript-eslint/no-explicit-any
        sendTogether(trx, trx.insertInto('together_items').values({ id: 100, label: 'kept?' }), trx.insertInto('together_items').values({ id: 1, label: 'a duplicate' }), trx.selectNoFrom(sql<number>`1`.as('one'))),
      ),
      (error: { code?: string }) => error.code === '23505',
    );
    const rows = await db.transaction().execute((trx: any) => trx.selectFrom('together_items').select('id').where('id', '=', 100).execute()); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(rows, [], 'the write before the failure was rolled back with it');
  });
});

describe('sendTogether on PostgreSQL: one round trip, and a read behind a lock', { skip: STORE_KIND !== 'postgres' && 'PostgreSQL only' }, () => {
  let database: { url: string; drop(): Promise<void> };
  let store: Store;
  let holder: pg.Client;
  before(async () => {
    database = await createTempDatabase(process.env['DATABASE_URL']!, `sideline_together_${process.pid}`);
    store = await openStore({ databaseUrl: database.url, poolSize: 1 });
    await sql`create table locked_items (id int primary key, note text not null)`.execute(store.db);
    await sql`insert into locked_items (id, note) values (1, 'before')`.execute(store.db);
    holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
  });
  after(async () => {
    await holder?.end();
    await store?.close();
    await database?.drop();
  });

  it('writes the read behind the lock before the lock is granted; the read sees what the holder committed', async () => {
    await sql`select 1`.execute(store.db); // the pool's one connection is open: nothing but our queries on the wire below
    await holder.query('begin');
    await holder.query(`update locked_items set note = 'written by the holder' where id = 1`);

    const writes = countSocketWrites();
    let writesWhileWaiting: number;
    let answered = false;
    const db = store.db as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const done = db
      .transaction()
      .execute((trx: any) => // eslint-disable-line @typescript-eslint/no-explicit-any
        sendTogether(trx, trx.selectFrom('locked_items').select('id').where('id', '=', 1).forUpdate(), trx.selectFrom('locked_items').select('note').where('id', '=', 1)),
      )
      .finally(() => (answered = true));
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      writesWhileWaiting = writes.count();
    } finally {
      writes.stop();
    }
    assert.equal(answered, false, 'the lock is still held');
    // begin, the lock and the read in one write (given in one tick): all sent, no answer yet.
    assert.equal(writesWhileWaiting, 1);

    await holder.query('commit');
    const [[locked], [read]] = await done;
    assert.deepEqual(locked, { id: 1 });
    assert.deepEqual(read, { note: 'written by the holder' }, 'the read ran once the lock was held, with a snapshot taken then');
  });
});
