import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { compileOnce } from '../../src/db/compiled.js';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';

describe(`compileOnce: a hot query compiled once, values bound per call (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => t.close());

  it('binds each call its own values, wherever they stand in the SQL, and keeps constants', async () => {
    const [a, b] = [await t.createUser('agent', 'Alpha'), await t.createUser('agent', 'Beta')];
    // Arguments used in another order than given, next to a constant of the query.
    const byNameThenAccount = compileOnce(
      (db, accountId: number, name: string) =>
        db.selectFrom('users').select(['id', 'name']).where('name', '=', name).where('role', '=', 'agent').where('account_id', '=', accountId),
      2,
    );
    assert.deepEqual(await byNameThenAccount(t.db, t.accountId, 'Alpha'), [{ id: a.id, name: 'Alpha' }]);
    assert.deepEqual(await byNameThenAccount(t.db, t.accountId, 'Beta'), [{ id: b.id, name: 'Beta' }]);
    assert.deepEqual(await byNameThenAccount(t.db, t.accountId + 1000, 'Beta'), []);
  });

  it('refuses, on first use, a query in which an argument did not become a parameter', async () => {
    const inlined = compileOnce((db, _unused: number) => db.selectFrom('users').select('id').where(sql<boolean>`true`), 1);
    await assert.rejects(inlined(t.db, 1), /1 argument\(s\) did not become parameters/);
  });
});
