import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { NO_READ_CACHE } from '../../src/db/read-cache.js';
import { appOptionsFor } from '../../src/runtime.js';
import { basic, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { assertValidation, expectStatus, FORBIDDEN, NOT_FOUND, UNAUTHORIZED } from '../helpers/api.js';

interface UserBody {
  id: number;
  name: string;
  email: string | null;
  role: string;
  active: boolean;
  suspended: boolean;
}
interface UserEnvelope {
  user: UserBody;
}

const ACME_HOST = 'acme.localhost';

describe(`people: update, suspend, delete, passwords (${STORE_KIND})`, () => {
  let t: TestApp;
  let acme: { accountId: number; admin: TestUser };

  before(async () => {
    t = await startTestApp();
    acme = await t.createAccount('acme');
  });
  after(async () => t.close());

  const me = (auth: string, host?: string) => t.request({ method: 'GET', url: '/api/v2/users/me', auth, headers: host ? { host } : {} });
  const put = (id: number, user: Record<string, unknown>, auth?: string, host?: string) =>
    t.request({ method: 'PUT', url: `/api/v2/users/${id}`, payload: { user }, auth, headers: host ? { host } : {} });
  const row = (id: number) => t.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  async function tokenFor(user: TestUser): Promise<string> {
    const res = await t.request({ method: 'POST', url: '/api/v2/api_tokens', payload: { api_token: { user_id: user.id } } });
    expectStatus(res, 201);
    return res.json<{ api_token: { token: string } }>().api_token.token;
  }

  describe('PUT /api/v2/users/{id}', () => {
    it('lets an admin change name, email and role; the answer is the Zendesk user with suspended', async () => {
      const agent = await t.createUser('agent');
      const email = `renamed.${randomBytes(3).toString('hex')}@example.com`;
      const res = await put(agent.id, { name: '  Renamed Agent ', email, role: 'admin' });
      expectStatus(res, 200);
      const { user } = res.json<UserEnvelope>();
      assert.deepEqual({ id: user.id, name: user.name, email: user.email, role: user.role, active: user.active, suspended: user.suspended }, {
        id: agent.id,
        name: 'Renamed Agent',
        email,
        role: 'admin',
        active: true,
        suspended: false,
      });
      // The old email no longer signs in; the new one does.
      expectStatus(await me(agent.auth), 401);
      expectStatus(await me(basic(email, agent.password)), 200);
    });

    it('revokes a cached password at once when the email changes', async () => {
      const agent = await t.createUser('agent');
      expectStatus(await me(agent.auth), 200); // cached now
      expectStatus(await put(agent.id, { email: `moved.${randomBytes(3).toString('hex')}@example.com` }), 200);
      expectStatus(await me(agent.auth), 401);
    });

    it('lets an agent rename only themselves; anything else is 403 and changes nothing', async () => {
      const agent = await t.createUser('agent', 'Self Namer');
      const other = await t.createUser('agent', 'Other Agent');
      const renamed = await put(agent.id, { name: 'Self Renamed' }, agent.auth);
      expectStatus(renamed, 200);
      assert.equal(renamed.json<UserEnvelope>().user.name, 'Self Renamed');
      // Sending back the fields it already has is fine (clients send the whole object).
      expectStatus(await put(agent.id, { name: 'Self Renamed', role: 'agent', suspended: false }, agent.auth), 200);

      const before = await row(agent.id);
      for (const change of [{ role: 'admin' }, { suspended: true }, { email: 'elsewhere@example.com' }]) {
        const res = await put(agent.id, change, agent.auth);
        expectStatus(res, 403);
        assert.deepEqual(res.json(), FORBIDDEN);
      }
      const onOther = await put(other.id, { name: 'Hijacked' }, agent.auth);
      expectStatus(onOther, 403);
      assert.deepEqual(await row(agent.id), before);
      assert.equal((await row(other.id)).name, 'Other Agent');

      const endUser = await t.createUser('end-user');
      expectStatus(await put(endUser.id, { name: 'Me' }, endUser.auth), 403);
      expectStatus(await put(endUser.id, { name: 'Me' }, 'Basic bm9ib2R5Om5vdGhpbmc='), 401);
    });

    it('validates: bad email, blank name, unknown role, duplicate email (422); unknown or foreign users 404', async () => {
      const agent = await t.createUser('agent');
      const taken = await t.createUser('agent');
      assertValidation(await put(agent.id, { email: 'not an email' }), 'email');
      assertValidation(await put(agent.id, { name: '   ' }), 'name');
      assertValidation(await put(agent.id, { role: 'owner' }), 'user.role');
      assertValidation(await put(agent.id, { suspended: 'yes' }), 'user.suspended');
      const duplicate = assertValidation(await put(agent.id, { email: taken.email.toUpperCase() }), 'email');
      assert.equal(duplicate.details['email']![0]!.error, 'DuplicateValue');
      const unknown = await put(999_999, { name: 'Ghost' });
      expectStatus(unknown, 404);
      assert.deepEqual(unknown.json(), NOT_FOUND);
      expectStatus(await put(acme.admin.id, { name: 'Foreign' }), 404);
      assert.equal((await row(acme.admin.id)).name, 'acme admin');
    });
  });

  describe('suspension', () => {
    it('a suspended user cannot authenticate by password or token, even cached; unsuspended, both work again', async () => {
      const agent = await t.createUser('agent');
      const token = await tokenFor(agent);
      const bearer = `Bearer ${token}`;
      expectStatus(await me(agent.auth), 200);
      expectStatus(await me(bearer), 200);
      const res = await put(agent.id, { suspended: true });
      expectStatus(res, 200);
      assert.equal(res.json<UserEnvelope>().user.suspended, true);
      for (const auth of [agent.auth, bearer, basic(`${agent.email}/token`, token)]) {
        const refused = await me(auth);
        expectStatus(refused, 401);
        assert.deepEqual(refused.json(), UNAUTHORIZED);
      }
      expectStatus(await put(agent.id, { suspended: false }), 200);
      expectStatus(await me(agent.auth), 200);
      expectStatus(await me(bearer), 200);
    });
  });

  describe('DELETE /api/v2/users/{id}', () => {
    it('answers 200 with the user, active false; its password and tokens stop at once and the tokens are gone', async () => {
      const agent = await t.createUser('agent');
      const token = await tokenFor(agent);
      expectStatus(await me(agent.auth), 200);
      expectStatus(await me(`Bearer ${token}`), 200);
      const res = await t.request({ method: 'DELETE', url: `/api/v2/users/${agent.id}` });
      expectStatus(res, 200);
      assert.equal(res.json<UserEnvelope>().user.id, agent.id);
      assert.equal(res.json<UserEnvelope>().user.active, false);
      expectStatus(await me(agent.auth), 401);
      expectStatus(await me(`Bearer ${token}`), 401);
      const tokens = await t.db.selectFrom('api_tokens').select('id').where('user_id', '=', agent.id).execute();
      assert.deepEqual(tokens, []);
      // Still shown (history names it), deleting again is the same answer, changing it is refused.
      const shown = await t.request({ method: 'GET', url: `/api/v2/users/${agent.id}` });
      assert.equal(shown.json<UserEnvelope>().user.active, false);
      expectStatus(await t.request({ method: 'DELETE', url: `/api/v2/users/${agent.id}` }), 200);
      assertValidation(await put(agent.id, { suspended: false }), 'base');
      assertValidation(await t.request({ method: 'POST', url: `/api/v2/users/${agent.id}/password`, payload: { password: 'back from the dead' } }), 'base');
      expectStatus(await me(basic(agent.email, 'back from the dead')), 401);
    });

    it('is for admins only, and 404 for unknown and foreign users', async () => {
      const agent = await t.createUser('agent');
      const other = await t.createUser('agent');
      const byAgent = await t.request({ method: 'DELETE', url: `/api/v2/users/${other.id}`, auth: agent.auth });
      expectStatus(byAgent, 403);
      assert.equal((await row(other.id)).active, true);
      expectStatus(await t.request({ method: 'DELETE', url: '/api/v2/users/999999' }), 404);
      expectStatus(await t.request({ method: 'DELETE', url: `/api/v2/users/${acme.admin.id}` }), 404);
      assert.equal((await row(acme.admin.id)).active, true);
    });
  });

  describe('the last admin', () => {
    it('cannot be demoted, suspended or deleted (422, nothing changes); with a second admin it can', async () => {
      // acme has exactly one admin.
      const versionBefore = (await row(acme.admin.id)).credentials_version;
      assertValidation(await put(acme.admin.id, { role: 'agent' }, acme.admin.auth, ACME_HOST), 'role');
      assertValidation(await put(acme.admin.id, { suspended: true }, acme.admin.auth, ACME_HOST), 'suspended');
      assertValidation(await t.request({ method: 'DELETE', url: `/api/v2/users/${acme.admin.id}`, auth: acme.admin.auth, headers: { host: ACME_HOST } }), 'base');
      const after = await row(acme.admin.id);
      assert.deepEqual([after.role, after.suspended, after.active, after.credentials_version], ['admin', false, true, versionBefore]);

      const second = await t.createUser('admin', 'Second acme admin', acme.accountId);
      const demoted = await put(acme.admin.id, { role: 'agent' }, second.auth, ACME_HOST);
      expectStatus(demoted, 200);
      assert.equal(demoted.json<UserEnvelope>().user.role, 'agent');
      // Now `second` is the last one; a suspended admin does not count as one.
      assertValidation(await put(second.id, { role: 'end-user' }, second.auth, ACME_HOST), 'role');
      expectStatus(await put(acme.admin.id, { role: 'admin', suspended: true }, second.auth, ACME_HOST), 200);
      assertValidation(await t.request({ method: 'DELETE', url: `/api/v2/users/${second.id}`, auth: second.auth, headers: { host: ACME_HOST } }), 'base');
      expectStatus(await put(acme.admin.id, { suspended: false }, second.auth, ACME_HOST), 200);
    });

    it('two admins demoting each other at once: exactly one wins, one admin is left', async () => {
      const beta = await t.createAccount('beta');
      const other = await t.createUser('admin', 'beta other', beta.accountId);
      const [a, b] = await Promise.all([
        put(other.id, { role: 'agent' }, beta.admin.auth, 'beta.localhost'),
        put(beta.admin.id, { role: 'agent' }, other.auth, 'beta.localhost'),
      ]);
      assert.deepEqual([a.statusCode, b.statusCode].sort(), [200, 422], `${a.body} / ${b.body}`);
      const admins = await t.db.selectFrom('users').select('id').where('account_id', '=', beta.accountId).where('role', '=', 'admin').execute();
      assert.equal(admins.length, 1);
    });
  });

  describe('passwords', () => {
    it("POST …/password: an admin sets a user's password (200, empty body); the old one stops at once", async () => {
      const agent = await t.createUser('agent');
      expectStatus(await me(agent.auth), 200);
      const res = await t.request({ method: 'POST', url: `/api/v2/users/${agent.id}/password`, payload: { password: 'set by the admin' } });
      expectStatus(res, 200);
      assert.equal(res.body, '');
      expectStatus(await me(agent.auth), 401);
      expectStatus(await me(basic(agent.email, 'set by the admin')), 200);
    });

    it('POST …/password is for admins only; short passwords are 422; foreign users 404', async () => {
      const agent = await t.createUser('agent');
      const other = await t.createUser('agent');
      const hashBefore = (await row(other.id)).password_hash;
      expectStatus(await t.request({ method: 'POST', url: `/api/v2/users/${other.id}/password`, payload: { password: 'agent sets it' }, auth: agent.auth }), 403);
      assertValidation(await t.request({ method: 'POST', url: `/api/v2/users/${other.id}/password`, payload: { password: 'short' } }), 'password');
      expectStatus(await t.request({ method: 'POST', url: `/api/v2/users/${acme.admin.id}/password`, payload: { password: 'foreign account' } }), 404);
      assert.equal((await row(other.id)).password_hash, hashBefore);
      expectStatus(await me(other.auth), 200);
    });

    it('PUT …/password: anyone changes their own with previous_password; the old one stops at once', async () => {
      for (const role of ['agent', 'end-user'] as const) {
        const user = await t.createUser(role);
        expectStatus(await me(user.auth), 200);
        const res = await t.request({
          method: 'PUT',
          url: `/api/v2/users/${user.id}/password`,
          payload: { previous_password: user.password, password: `new ${role} password` },
          auth: user.auth,
        });
        expectStatus(res, 200);
        assert.equal(res.body, '');
        expectStatus(await me(user.auth), 401);
        expectStatus(await me(basic(user.email, `new ${role} password`)), 200);
      }
    });

    it('PUT …/password refuses a wrong previous_password (422), another user (403) and a missing field (422)', async () => {
      const agent = await t.createUser('agent');
      const other = await t.createUser('agent');
      const hash = (await row(agent.id)).password_hash;
      const otherHash = (await row(other.id)).password_hash;
      const wrong = await t.request({ method: 'PUT', url: `/api/v2/users/${agent.id}/password`, payload: { previous_password: 'not it at all', password: 'whatever new' }, auth: agent.auth });
      assertValidation(wrong, 'previous_password');
      const foreign = await t.request({ method: 'PUT', url: `/api/v2/users/${other.id}/password`, payload: { previous_password: other.password, password: 'whatever new' }, auth: agent.auth });
      expectStatus(foreign, 403);
      // Even an admin changes only their own this way (POST is the admin's call).
      expectStatus(await t.request({ method: 'PUT', url: `/api/v2/users/${agent.id}/password`, payload: { previous_password: agent.password, password: 'admin tries' } }), 403);
      assertValidation(await t.request({ method: 'PUT', url: `/api/v2/users/${agent.id}/password`, payload: { password: 'no previous given' }, auth: agent.auth }), 'previous_password');
      assert.equal((await row(agent.id)).password_hash, hash);
      assert.equal((await row(other.id)).password_hash, otherHash);
      expectStatus(await me(agent.auth), 200);
      expectStatus(await me(other.auth), 200);
    });
  });

  describe('another process on the same database', () => {
    let second: FastifyInstance;
    before(async () => {
      // A second API process: its own app and credential cache over the same store.
      second = await buildApp(appOptionsFor(t.config, { db: t.db, hotReads: t.db, reads: NO_READ_CACHE, notifications: null }));
      await second.ready();
    });
    after(async () => second.close());

    const meThere = (auth: string) => second.inject({ method: 'GET', url: '/api/v2/users/me', headers: { authorization: auth } });

    it('refuses a password changed, a user suspended or deleted through this one within a second', async () => {
      const changed = await t.createUser('agent');
      const suspended = await t.createUser('agent');
      const deleted = await t.createUser('agent');
      for (const user of [changed, suspended, deleted]) expectStatus(await meThere(user.auth), 200);
      expectStatus(await t.request({ method: 'POST', url: `/api/v2/users/${changed.id}/password`, payload: { password: 'changed elsewhere' } }), 200);
      expectStatus(await put(suspended.id, { suspended: true }), 200);
      expectStatus(await t.request({ method: 'DELETE', url: `/api/v2/users/${deleted.id}` }), 200);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      for (const user of [changed, suspended, deleted]) expectStatus(await meThere(user.auth), 401);
      expectStatus(await meThere(basic(changed.email, 'changed elsewhere')), 200);
    });
  });
});
