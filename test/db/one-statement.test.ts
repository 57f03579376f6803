/**
 * OneStatement (src/db/one-statement.ts): writes sent as one data-modifying CTE, each part's
 * RETURNING given back with the drivers' types, on the store the suite runs on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { OneStatement } from '../../src/db/one-statement.js';
import type { Executor } from '../../src/db/executor.js';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';

interface Parent {
  id: number;
  name: string;
  doc: { tags: string[] } | null;
  made_at: Date;
}
interface Child {
  id: number;
  parent_id: number;
  label: string;
}

describe(`OneStatement: several writes, one statement (${STORE_KIND})`, () => {
  let t: TestApp;
  // Tables of the test's own, outside the app's schema types.
  let db: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  before(async () => {
    t = await startTestApp();
    db = t.db;
    await sql`create table one_parent (id bigserial primary key, name text not null unique, doc jsonb, made_at timestamptz not null default now())`.execute(t.db);
    await sql`create table one_child (id bigserial primary key, parent_id bigint not null references one_parent (id), label text not null)`.execute(t.db);
    await sql`create table one_note (id bigserial primary key, body text not null)`.execute(t.db);
  });
  after(async () => t.close());

  const count = async (table: string) => Number((await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(t.db)).rows[0]!.n);

  it('writes every part; a later part reads an earlier one by name; rows come back typed', async () => {
    const statement = new OneStatement();
    const parent = statement.add<Parent>(db.insertInto('one_parent').values({ name: 'p1', doc: sql`'{"tags":["a","b"]}'::jsonb` }).returningAll(), { timestamps: ['made_at'] });
    const parentId = parent.column('id');
    const children = statement.add<Child>(
      db
        .insertInto('one_child')
        .values([
          { parent_id: parentId, label: 'first' },
          { parent_id: parentId, label: 'second' },
        ])
        .returningAll(),
    );
    const note = statement.add(db.insertInto('one_note').values({ body: 'not returned' }).returning('id'), { returns: false });
    assert.throws(() => parent.rows(), /before the statement ran/);
    await statement.run(t.db as Executor);

    const [p] = parent.rows();
    assert.equal(parent.rows().length, 1);
    assert.equal(typeof p!.id, 'number', 'bigserial as a number, as the drivers give int8');
    assert.equal(p!.name, 'p1');
    assert.deepEqual(p!.doc, { tags: ['a', 'b'] }, 'jsonb as its value');
    assert.ok(p!.made_at instanceof Date, 'a timestamp column named in `timestamps` is a Date');
    const stored = (await sql<{ made_at: Date }>`select made_at from one_parent where id = ${p!.id}`.execute(t.db)).rows[0]!;
    assert.equal(p!.made_at.getTime(), new Date(stored.made_at).getTime(), 'the same instant as the stored value');

    assert.deepEqual(
      children
        .rows()
        .map((c) => [c.parent_id, c.label])
        .sort(),
      [
        [p!.id, 'first'],
        [p!.id, 'second'],
      ],
    );
    assert.deepEqual(note.rows(), [], 'a part not returned gives no rows');
    assert.equal(await count('one_note'), 1, 'but it was written');
  });

  it('a failing part fails the statement: none of its parts is written', async () => {
    const [parents, children, notes] = [await count('one_parent'), await count('one_child'), await count('one_note')];
    const statement = new OneStatement();
    statement.add(db.insertInto('one_note').values({ body: 'before the failure' }).returning('id'), { returns: false });
    const parent = statement.add<Parent>(db.insertInto('one_parent').values({ name: 'p2' }).returningAll());
    statement.add(db.insertInto('one_child').values({ parent_id: parent.column('id'), label: 'orphan' }).returning('id'));
    // Unique violation on name: the whole statement must leave nothing behind.
    statement.add(db.insertInto('one_parent').values({ name: 'p1' }).returning('id'));
    await assert.rejects(statement.run(t.db as Executor), (error: { code?: string }) => error.code === '23505');
    assert.deepEqual([await count('one_parent'), await count('one_child'), await count('one_note')], [parents, children, notes]);
  });

  it('runs once: a second run, or a part added after the run, is refused', async () => {
    const statement = new OneStatement();
    statement.add(db.insertInto('one_note').values({ body: 'once' }).returning('id'), { returns: false });
    await statement.run(t.db as Executor);
    await assert.rejects(statement.run(t.db as Executor), /run twice/);
    assert.throws(() => statement.add(db.insertInto('one_note').values({ body: 'late' })), /after the statement ran/);
  });
});
