/**
 * The embedded store's statements (src/db/pglite-statements.ts): data statements prepared once by
 * name and run in one exchange, with values and results as PGlite's own query() gives them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PGlite, types } from '@electric-sql/pglite';
import { preparedStatements, type RunStatement } from '../../src/db/pglite-statements.js';

describe('PGlite statements prepared by name', () => {
  let pglite: PGlite;
  let run: RunStatement;

  before(async () => {
    pglite = await PGlite.create({ parsers: { [types.INT8]: (value: string) => Number(value) } });
    await pglite.exec(`create table items (id bigserial primary key, name text not null unique, doc jsonb, at timestamptz, bytes bytea)`);
    run = preparedStatements(pglite);
  });
  after(async () => {
    await pglite?.close();
  });

  const prepared = async () => (await pglite.query<{ name: string; statement: string }>('select name, statement from pg_prepared_statements order by name')).rows;

  it('prepares a data statement on its first run only, and answers each run with its own values', async () => {
    const insert = 'insert into items (name, doc, at, bytes) values ($1, $2, $3, $4) returning *';
    const at = new Date('2026-12-01T10:00:00.000Z');
    const first = await run(insert, ['a', { k: [1, 'x'] }, at, Buffer.from([0, 255, 7])]);
    const second = await run(insert, ['b', null, null, null]);
    assert.equal(first.command, 'INSERT');
    assert.equal(first.affectedRows, 1);
    const [a] = first.rows as Array<{ id: number; name: string; doc: unknown; at: Date; bytes: Uint8Array }>;
    assert.equal(typeof a!.id, 'number', 'int8 parsed as a number');
    assert.equal(a!.name, 'a');
    assert.deepEqual(a!.doc, { k: [1, 'x'] });
    assert.equal(a!.at.toISOString(), at.toISOString());
    assert.deepEqual([...a!.bytes], [0, 255, 7]);
    assert.deepEqual((second.rows[0] as { name: string; doc: unknown }).doc, null);
    const statements = (await prepared()).filter((s) => s.statement === insert);
    assert.equal(statements.length, 1, 'one prepared statement for the text, reused by the second run');
  });

  it('runs transaction control as simple queries and statements inside the transaction', async () => {
    assert.equal((await run('begin', [])).command, 'BEGIN');
    await run('update items set name = $1 where name = $2', ['a2', 'a']);
    assert.equal((await run('rollback', [])).command, 'ROLLBACK');
    const names = (await run('select name from items order by name', [])).rows.map((r) => (r as { name: string }).name);
    assert.deepEqual(names, ['a', 'b'], 'the rolled back update left nothing');
  });

  it('reports an error with PostgreSQL fields, and the statement runs again afterwards', async () => {
    const insert = 'insert into items (name) values ($1)';
    await run(insert, ['c']);
    await assert.rejects(run(insert, ['c']), (error: { code?: string; constraint?: string }) => error.code === '23505' && error.constraint === 'items_name_key');
    await run('begin', []);
    await assert.rejects(run(insert, ['c']), { code: '23505' });
    await assert.rejects(run('select name from items where name = $1', ['c']), { code: '25P02' }, 'the transaction is aborted');
    await run('rollback', []);
    assert.equal((await run(insert, ['d'])).affectedRows, 1);
    assert.equal((await run('select name from items where name = $1', ['c'])).rows.length, 1, 'a statement whose first preparation failed in an aborted transaction is prepared again');
  });

  it('does not keep a statement that could not be prepared', async () => {
    const bad = 'select nope from items where id = $1';
    await assert.rejects(run(bad, [1]), { code: '42703' });
    await pglite.exec('alter table items add column nope text');
    assert.deepEqual((await run(bad, [1])).rows, [{ nope: null }]);
  });

  it('runs other statements (DDL) unnamed', async () => {
    await run('create index items_at on items (at)', []);
    assert.equal((await prepared()).some((s) => /create index/i.test(s.statement)), false);
  });
});
