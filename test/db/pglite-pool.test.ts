/**
 * The embedded store's one session (src/db/pglite-pool.ts): a statement outside a transaction waits
 * for the transaction in progress, not for every transaction queued behind it, and a stream of
 * such statements never keeps a waiting transaction out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { startInProcessDatabase, type EmbeddedDatabase } from '../../src/db/embedded-database.js';
import { PGlitePool } from '../../src/db/pglite-pool.js';
import { openStore, type Store } from '../../src/db/store.js';
import type { Database } from '../../src/db/types.js';

const skip = process.env['DATABASE_URL'] ? 'the embedded store only (PostgreSQL has a pool of sessions)' : false;

/** A transaction that takes the session and keeps it until `open` resolves. */
function holdSession(db: Kysely<Database>, open: Promise<void>): { holding: Promise<void>; done: Promise<void> } {
  let started!: () => void;
  const holding = new Promise<void>((resolve) => (started = resolve));
  const done = db.transaction().execute(async (trx) => {
    await sql`select 1`.execute(trx);
    started();
    await open;
  });
  return { holding, done };
}

/** Lets the event loop run until every promise chain that can settle has (the worker-free store answers in process). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('embedded store session order', { skip }, () => {
  let store: Store;
  before(async () => (store = await openStore({})));
  after(() => store.close());

  it('lets a statement in right after the transaction in progress, ahead of the transactions queued before it', async () => {
    const finished: string[] = [];
    let letGo!: () => void;
    const first = holdSession(store.db, new Promise<void>((resolve) => (letGo = resolve)));
    await first.holding;
    const queued = [1, 2, 3].map((n) =>
      store.db.transaction().execute(async (trx) => {
        await sql`select ${n}::int as n`.execute(trx);
        finished.push(`transaction ${n}`);
      }),
    );
    await settle();
    const read = sql<{ n: number }>`select 42::int as n`.execute(store.db).then((result) => finished.push(`statement ${result.rows[0]!.n}`));
    await settle();
    assert.deepEqual(finished, [], 'nothing runs while the first transaction holds the session');
    assert.equal(store.poolStats().waiting, 4);
    letGo();
    await Promise.all([first.done, read, ...queued]);
    assert.deepEqual(finished, ['statement 42', 'transaction 1', 'transaction 2', 'transaction 3']);
  });

  it('never keeps a waiting transaction out with statements that keep coming', async () => {
    let letGo!: () => void;
    const first = holdSession(store.db, new Promise<void>((resolve) => (letGo = resolve)));
    await first.holding;
    let statementsDone = 0;
    let transactionDoneAfter = -1;
    const waiting = store.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      transactionDoneAfter = statementsDone;
    });
    // Each statement, once answered, sends the next: a reader that never pauses.
    const reader = (async () => {
      for (let i = 0; i < 50; i++) {
        await sql`select ${i}::int`.execute(store.db);
        statementsDone += 1;
      }
    })();
    await settle();
    letGo();
    await Promise.all([first.done, waiting, reader]);
    assert.ok(transactionDoneAfter >= 0 && transactionDoneAfter <= 2, `the transaction ran after ${transactionDoneAfter} of 50 statements`);
  });

  it('releases the session after a statement fails and after a transaction rolls back', async () => {
    await assert.rejects(sql`select * from no_such_table`.execute(store.db), /no_such_table/);
    await assert.rejects(
      store.db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    const { rows } = await sql<{ ok: number }>`select 1::int as ok`.execute(store.db);
    assert.deepEqual(rows, [{ ok: 1 }]);
    assert.deepEqual(store.poolStats(), { total: 1, idle: 1, waiting: 0 });
  });
});

describe('embedded store: a transaction begun with its first statement', { skip }, () => {
  let database: EmbeddedDatabase;
  let pool: PGlitePool;
  let db: Kysely<Database>;
  /** Each exchange with the database, as sent: [opener, statement]. */
  const exchanges: Array<[string | undefined, string]> = [];
  before(async () => {
    const inner = await startInProcessDatabase([]);
    database = {
      ...inner,
      query: (text, params, opener) => {
        exchanges.push([opener, text]);
        return inner.query(text, params, opener);
      },
    };
    pool = new PGlitePool(database);
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    await sql`create table begun_items (id int primary key)`.execute(db);
  });
  after(async () => {
    await db.destroy();
  });

  it('sends the begin in the exchange of the first statement: a one-statement transaction is two exchanges', async () => {
    exchanges.length = 0;
    await db.transaction().execute((trx) => sql`insert into begun_items (id) values (1)`.execute(trx));
    assert.deepEqual(exchanges, [
      ['begin', 'insert into begun_items (id) values (1)'],
      [undefined, 'commit'],
    ]);
  });

  it('keeps the transaction whole: a rollback takes its statements back, its settings hold, a failing first statement is reported', async () => {
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await sql`insert into begun_items (id) values (2)`.execute(trx);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    const level = await db
      .transaction()
      .setIsolationLevel('serializable')
      .execute((trx) => sql<{ level: string }>`select current_setting('transaction_isolation') as level`.execute(trx));
    assert.deepEqual(level.rows, [{ level: 'serializable' }]);
    await assert.rejects(
      db.transaction().execute((trx) => sql`insert into begun_items (id) values (1)`.execute(trx)),
      (error: { code?: string }) => error.code === '23505',
    );
    const { rows } = await sql<{ id: number }>`select id from begun_items order by id`.execute(db);
    assert.deepEqual(rows, [{ id: 1 }]);
    assert.deepEqual(pool.stats(), { total: 1, idle: 1, waiting: 0 });
  });
});
