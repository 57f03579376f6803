import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { basic, countRows, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { assertValidation, FORBIDDEN, NOT_FOUND, pathOf, UNAUTHORIZED } from '../helpers/api.js';
import type { PageBody } from '../helpers/api-types.js';

interface UserBody {
  id: number;
  url: string;
  name: string;
  email: string | null;
  role: 'end-user' | 'agent' | 'admin';
  active: boolean;
  verified: boolean;
  created_at: string;
  updated_at: string;
}
interface UserEnvelope {
  user: UserBody;
}
interface UserListBody extends PageBody {
  users: UserBody[];
}
interface GroupBody {
  id: number;
  url: string;
  name: string;
  description: string;
  default: boolean;
  deleted: boolean;
  created_at: string;
  updated_at: string;
}
interface GroupListBody extends PageBody {
  groups: GroupBody[];
}
interface MembershipBody {
  id: number;
  url: string;
  user_id: number;
  group_id: number;
  default: boolean;
  created_at: string;
  updated_at: string;
}
interface MembershipListBody extends PageBody {
  group_memberships: MembershipBody[];
}
interface ApiTokenBody {
  id: number;
  url: string;
  user_id: number;
  description: string | null;
  token?: string;
  token_hint: string;
  active: boolean;
  created_at: string;
}

const ACME_HOST = 'acme.localhost';

function uniqueEmail(prefix: string): string {
  return `${prefix}.${randomBytes(4).toString('hex')}@example.com`;
}

function assertNoSecrets(res: LightMyRequestResponse, ...secrets: string[]): void {
  assert.ok(!res.body.includes('password_hash'), `password_hash leaked: ${res.body}`);
  assert.ok(!res.body.includes('scrypt$'), `a password hash leaked: ${res.body}`);
  for (const secret of secrets) assert.ok(!res.body.includes(secret), `secret leaked: ${res.body}`);
}

describe(`users, groups and API tokens (${STORE_KIND})`, () => {
  let t: TestApp;
  let acme: { accountId: number; admin: TestUser };
  let agent: TestUser;
  let endUser: TestUser;
  let acmeAgent: TestUser;
  let acmeEndUser: TestUser;

  before(async () => {
    t = await startTestApp();
    // Accounts first: the account resolver loads its map on the first request.
    acme = await t.createAccount('acme');
    agent = await t.createUser('agent', 'Agent Smith');
    endUser = await t.createUser('end-user', 'Ena User');
    acmeAgent = await t.createUser('agent', 'Acme Agent', acme.accountId);
    acmeEndUser = await t.createUser('end-user', 'Acme Customer', acme.accountId);
  });
  after(async () => t.close());

  const createUser = (payload: unknown, auth?: string | null, host?: string) =>
    t.request({ method: 'POST', url: '/api/v2/users', payload: payload as Record<string, unknown>, auth, headers: host ? { host } : {} });

  describe('POST /api/v2/users', () => {
    it('lets an admin create an agent with a password, and that agent can then authenticate', async () => {
      const email = uniqueEmail('new.agent');
      const password = 'a long enough password';
      const res = await createUser({ user: { name: '  New Agent ', email, role: 'agent', password } });
      assert.equal(res.statusCode, 201, res.body);
      const { user } = res.json<UserEnvelope>();
      assert.equal(typeof user.id, 'number');
      assert.equal(user.name, 'New Agent');
      assert.equal(user.email, email);
      assert.equal(user.role, 'agent');
      assert.equal(user.active, true);
      assert.match(user.url, new RegExp(`^https?://[^/]+/api/v2/users/${user.id}\\.json$`));
      assert.match(user.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assertNoSecrets(res, password);

      const me = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: basic(email, password) });
      assert.equal(me.statusCode, 200, me.body);
      assert.equal(me.json<UserEnvelope>().user.id, user.id);
      assert.equal(me.json<UserEnvelope>().user.role, 'agent');
      assertNoSecrets(me, password);

      // The new agent has agent rights.
      const list = await t.request({ method: 'GET', url: '/api/v2/users', auth: basic(email, password) });
      assert.equal(list.statusCode, 200, list.body);
      assert.ok(list.json<UserListBody>().users.some((u) => u.id === user.id));

      const wrong = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: basic(email, 'not the password') });
      assert.equal(wrong.statusCode, 401);
      assert.deepEqual(wrong.json(), UNAUTHORIZED);
    });

    it('stores only a scrypt hash of the password, never the password itself', async () => {
      const email = uniqueEmail('hashed');
      const password = `pw-${randomBytes(6).toString('hex')}`;
      const res = await createUser({ user: { name: 'Hashed', email, role: 'admin', password } });
      assert.equal(res.statusCode, 201, res.body);
      const { user } = res.json<UserEnvelope>();
      assert.equal(user.role, 'admin');
      const row = await t.db.selectFrom('users').select(['password_hash']).where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.ok(row.password_hash, 'a password hash is stored');
      assert.ok(row.password_hash.startsWith('scrypt$'), row.password_hash);
      assert.notEqual(row.password_hash, password);
      assert.ok(!row.password_hash.includes(password));

      for (const url of [`/api/v2/users/${user.id}`, '/api/v2/users?per_page=100', '/api/v2/users/me']) {
        const got = await t.request({ method: 'GET', url, auth: url.endsWith('/me') ? basic(email, password) : undefined });
        assert.equal(got.statusCode, 200, got.body);
        assertNoSecrets(got, password);
      }
    });

    it('creates end-users by default, without a password; they cannot log in', async () => {
      const email = uniqueEmail('customer');
      const res = await createUser({ user: { name: 'Customer', email } });
      assert.equal(res.statusCode, 201, res.body);
      const { user } = res.json<UserEnvelope>();
      assert.equal(user.role, 'end-user');
      assert.equal(user.email, email);
      const row = await t.db.selectFrom('users').select(['password_hash']).where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(row.password_hash, null);
      const login = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: basic(email, 'anything at all') });
      assert.equal(login.statusCode, 401);
      assert.deepEqual(login.json(), UNAUTHORIZED);
    });

    it('refuses a duplicate email, case-insensitively, with details.email', async () => {
      const email = uniqueEmail('Dup.User');
      const first = await createUser({ user: { name: 'First', email } });
      assert.equal(first.statusCode, 201, first.body);
      const before = await countRows(t.db, 'users');
      for (const variant of [email, email.toUpperCase(), email.toLowerCase(), `  ${email}  `]) {
        const res = await createUser({ user: { name: 'Second', email: variant, role: 'agent' } });
        assertValidation(res, 'email');
      }
      assert.equal(await countRows(t.db, 'users'), before);
    });

    it('refuses duplicates created concurrently: one 201, the rest 422, never a 500', async () => {
      const email = uniqueEmail('race');
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => createUser({ user: { name: `Racer ${i}`, email: i % 2 ? email.toUpperCase() : email } })),
      );
      const statuses = results.map((r) => r.statusCode).sort();
      assert.deepEqual(statuses, [201, 422, 422, 422, 422, 422, 422, 422], results.map((r) => r.body).join('\n'));
      for (const r of results.filter((x) => x.statusCode === 422)) assertValidation(r, 'email');
      const rows = await t.db.selectFrom('users').select('id').where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase())).execute();
      assert.equal(rows.length, 1);
    });

    it('allows the same email in another account', async () => {
      const email = uniqueEmail('shared');
      const ours = await createUser({ user: { name: 'Ours', email } });
      assert.equal(ours.statusCode, 201, ours.body);
      const theirs = await createUser({ user: { name: 'Theirs', email } }, acme.admin.auth, ACME_HOST);
      assert.equal(theirs.statusCode, 201, theirs.body);
      assert.notEqual(theirs.json<UserEnvelope>().user.id, ours.json<UserEnvelope>().user.id);
      assert.equal(theirs.json<UserEnvelope>().user.name, 'Theirs');
    });

    it('refuses malformed email addresses with details.email', async () => {
      const before = await countRows(t.db, 'users');
      for (const email of ['not-an-email', 'a@b', 'two words@example.com', '@example.com', 'x@example.com\r\nBcc: y@example.com', 'a@@example.com']) {
        assertValidation(await createUser({ user: { name: 'Bad', email } }), 'email');
      }
      assert.equal(await countRows(t.db, 'users'), before);
    });

    it('refuses other invalid input with 422 naming the field', async () => {
      const before = await countRows(t.db, 'users');
      assertValidation(await createUser({ user: { email: uniqueEmail('noname') } }), 'user.name');
      assertValidation(await createUser({ user: { name: 'No Email' } }), 'user.email');
      assertValidation(await createUser({ user: { name: 'Bad Role', email: uniqueEmail('role'), role: 'owner' } }), 'user.role');
      assertValidation(await createUser({ user: { name: 'Short', email: uniqueEmail('short'), password: 'short' } }), 'user.password');
      assertValidation(await createUser({ user: { name: 'Line\nBreak', email: uniqueEmail('ctl') } }), 'name');
      assertValidation(await createUser({ user: { name: '   ', email: uniqueEmail('blank') } }), 'name');
      assertValidation(await createUser({}), 'user');
      assert.equal(await countRows(t.db, 'users'), before);
    });

    it('is for admins only: agents and end-users get the Forbidden body, anonymous callers 401', async () => {
      const before = await countRows(t.db, 'users');
      const payload = { user: { name: 'Sneaky', email: uniqueEmail('sneaky'), role: 'admin' } };
      const byAgent = await createUser(payload, agent.auth);
      assert.equal(byAgent.statusCode, 403);
      assert.deepEqual(byAgent.json(), FORBIDDEN);
      const byEndUser = await createUser(payload, endUser.auth);
      assert.equal(byEndUser.statusCode, 403);
      assert.deepEqual(byEndUser.json(), FORBIDDEN);
      const anonymous = await createUser(payload, null);
      assert.equal(anonymous.statusCode, 401);
      assert.deepEqual(anonymous.json(), UNAUTHORIZED);
      assert.equal(await countRows(t.db, 'users'), before);
    });
  });

  describe('GET /api/v2/users', () => {
    it('refuses end-users with the Forbidden body, lets agents list', async () => {
      const res = await t.request({ method: 'GET', url: '/api/v2/users', auth: endUser.auth });
      assert.equal(res.statusCode, 403);
      assert.deepEqual(res.json(), FORBIDDEN);
      const byAgent = await t.request({ method: 'GET', url: '/api/v2/users', auth: agent.auth });
      assert.equal(byAgent.statusCode, 200, byAgent.body);
      const ids = byAgent.json<UserListBody>().users.map((u) => u.id);
      assert.ok(ids.includes(agent.id) && ids.includes(endUser.id) && ids.includes(t.admin.id));
    });

    it('lists only the caller account’s users', async () => {
      const ours = await t.request({ method: 'GET', url: '/api/v2/users?per_page=100' });
      assert.equal(ours.statusCode, 200);
      const ourIds = ours.json<UserListBody>().users.map((u) => u.id);
      assert.ok(!ourIds.includes(acmeAgent.id) && !ourIds.includes(acme.admin.id) && !ourIds.includes(acmeEndUser.id));
      const theirs = await t.request({ method: 'GET', url: '/api/v2/users?per_page=100', auth: acme.admin.auth, headers: { host: ACME_HOST } });
      assert.equal(theirs.statusCode, 200, theirs.body);
      const theirIds = theirs.json<UserListBody>().users.map((u) => u.id);
      assert.ok(theirIds.includes(acmeAgent.id) && theirIds.includes(acme.admin.id));
      assert.ok(!theirIds.includes(t.admin.id) && !theirIds.includes(agent.id));
      assert.equal(theirs.json<UserListBody>().count, theirIds.length);
    });

    it('paginates with per_page, absolute next_page links and a stable count', async () => {
      for (let i = 0; i < 3; i++) await t.createUser('end-user');
      const all = await t.request({ method: 'GET', url: '/api/v2/users?per_page=100' });
      const full = all.json<UserListBody>();
      assert.equal(full.count, full.users.length);
      assert.equal(full.next_page, null);
      assert.equal(full.previous_page, null);
      assert.ok(full.count >= 5);

      const seen: number[] = [];
      let next: string | null = '/api/v2/users.json?per_page=2';
      let pages = 0;
      while (next) {
        const res = await t.request({ method: 'GET', url: next });
        assert.equal(res.statusCode, 200, res.body);
        const page = res.json<UserListBody>();
        assert.equal(page.count, full.count);
        assert.ok(page.users.length <= 2);
        if (pages > 0) assert.match(page.previous_page ?? '', /^http:\/\/[^/]+\/api\/v2\/users\.json\?/);
        else assert.equal(page.previous_page, null);
        if (page.next_page !== null) {
          assert.match(page.next_page, /^http:\/\/[^/]+\/api\/v2\/users\.json\?/);
          const link = new URL(page.next_page);
          assert.equal(link.searchParams.get('per_page'), '2');
          assert.equal(link.searchParams.get('page'), String(pages + 2));
        }
        seen.push(...page.users.map((u) => u.id));
        next = page.next_page ? pathOf(page.next_page) : null;
        pages += 1;
      }
      assert.equal(pages, Math.ceil(full.count / 2));
      assert.deepEqual(seen, full.users.map((u) => u.id));
    });

    it('filters by ?role=agent and keeps the filter in next_page', async () => {
      const extra = [await t.createUser('agent'), await t.createUser('agent')];
      const res = await t.request({ method: 'GET', url: '/api/v2/users?role=agent&per_page=100' });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<UserListBody>();
      assert.ok(body.users.length >= 3);
      assert.ok(body.users.every((u) => u.role === 'agent'), res.body);
      const ids = body.users.map((u) => u.id);
      for (const u of [agent, ...extra]) assert.ok(ids.includes(u.id));
      assert.ok(!ids.includes(endUser.id) && !ids.includes(t.admin.id));
      assert.equal(body.count, body.users.length);

      const first = await t.request({ method: 'GET', url: '/api/v2/users?role=agent&per_page=1' });
      const page1 = first.json<UserListBody>();
      assert.equal(page1.count, body.count);
      assert.ok(page1.next_page);
      assert.equal(new URL(page1.next_page).searchParams.get('role'), 'agent');
      const second = await t.request({ method: 'GET', url: pathOf(page1.next_page) });
      const page2 = second.json<UserListBody>();
      assert.equal(page2.users.length, 1);
      assert.equal(page2.users[0]!.role, 'agent');
      assert.equal(page2.users[0]!.id, body.users[1]!.id);
    });

    it('filters by several roles with role[] (Zendesk spelling) and keeps them all in next_page', async () => {
      const all = (await t.request({ method: 'GET', url: '/api/v2/users?per_page=100' })).json<UserListBody>();
      const staff = all.users.filter((u) => u.role === 'agent' || u.role === 'admin').map((u) => u.id);
      assert.ok(staff.length >= 3 && all.users.some((u) => u.role === 'end-user'));

      const both = await t.request({ method: 'GET', url: '/api/v2/users?role[]=agent&role[]=admin&per_page=100' });
      assert.equal(both.statusCode, 200, both.body);
      const body = both.json<UserListBody>();
      assert.deepEqual(body.users.map((u) => u.id), staff, 'agents and admins, by id, no end-users');
      assert.equal(body.count, staff.length);

      const seen: number[] = [];
      let next: string | null = '/api/v2/users?role%5B%5D=agent&role%5B%5D=admin&per_page=2';
      while (next) {
        const res = await t.request({ method: 'GET', url: next });
        assert.equal(res.statusCode, 200, res.body);
        const page = res.json<UserListBody>();
        assert.equal(page.count, staff.length);
        seen.push(...page.users.map((u) => u.id));
        if (page.next_page) assert.deepEqual(new URL(page.next_page).searchParams.getAll('role[]'), ['agent', 'admin']);
        next = page.next_page ? pathOf(page.next_page) : null;
      }
      assert.deepEqual(seen, staff, 'next_page walks every agent and admin once');

      const one = await t.request({ method: 'GET', url: '/api/v2/users?role[]=admin' });
      assert.equal(one.statusCode, 200, one.body);
      assert.ok(one.json<UserListBody>().users.every((u) => u.role === 'admin'));
      const bad = await t.request({ method: 'GET', url: '/api/v2/users?role[]=agent&role[]=owner' });
      assert.equal(bad.statusCode, 400);
      assert.equal(typeof bad.json<{ error: string }>().error, 'string');
    });

    it('answers an unknown role with a 400 body', async () => {
      const res = await t.request({ method: 'GET', url: '/api/v2/users?role=owner' });
      assert.equal(res.statusCode, 400);
      assert.equal(typeof res.json<{ error: string }>().error, 'string');
    });
  });

  describe('GET /api/v2/users/{id} and /me', () => {
    it('shows a user of the account', async () => {
      const res = await t.request({ method: 'GET', url: `/api/v2/users/${agent.id}` });
      assert.equal(res.statusCode, 200, res.body);
      const { user } = res.json<UserEnvelope>();
      assert.equal(user.id, agent.id);
      assert.equal(user.email, agent.email);
      assert.equal(user.name, 'Agent Smith');
      assert.equal(user.role, 'agent');
      assertNoSecrets(res, agent.password);
    });

    it('answers 404 RecordNotFound for an unknown id, a non-integer id and another account’s user', async () => {
      for (const id of ['999999', '0', '-1', 'abc', '1.5', String(acmeAgent.id), String(acme.admin.id)]) {
        const res = await t.request({ method: 'GET', url: `/api/v2/users/${id}` });
        assert.equal(res.statusCode, 404, `${id}: ${res.body}`);
        assert.deepEqual(res.json(), NOT_FOUND);
      }
      const fromAcme = await t.request({ method: 'GET', url: `/api/v2/users/${agent.id}`, auth: acme.admin.auth, headers: { host: ACME_HOST } });
      assert.equal(fromAcme.statusCode, 404);
      assert.deepEqual(fromAcme.json(), NOT_FOUND);
    });

    it('answers 404 (not 500) for an id beyond the integer range', async () => {
      for (const id of ['99999999999999999999', '9223372036854775808']) {
        const res = await t.request({ method: 'GET', url: `/api/v2/users/${id}` });
        assert.equal(res.statusCode, 404, `${id}: ${res.body}`);
        assert.deepEqual(res.json(), NOT_FOUND);
      }
    });

    it('GET /me works for end-users, agents and admins', async () => {
      for (const [who, expectedRole] of [
        [endUser, 'end-user'],
        [agent, 'agent'],
        [t.admin, 'admin'],
      ] as const) {
        const res = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: who.auth });
        assert.equal(res.statusCode, 200, res.body);
        const { user } = res.json<UserEnvelope>();
        assert.equal(user.id, who.id);
        assert.equal(user.email, who.email);
        assert.equal(user.role, expectedRole);
        assertNoSecrets(res, who.password);
      }
      const anonymous = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: null });
      assert.equal(anonymous.statusCode, 401);
      assert.deepEqual(anonymous.json(), UNAUTHORIZED);
    });

    it('end-users cannot show other users', async () => {
      const res = await t.request({ method: 'GET', url: `/api/v2/users/${agent.id}`, auth: endUser.auth });
      assert.equal(res.statusCode, 403);
      assert.deepEqual(res.json(), FORBIDDEN);
    });

    it('credentials are scoped to the account of the Host', async () => {
      const wrongHost = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: acme.admin.auth });
      assert.equal(wrongHost.statusCode, 401);
      assert.deepEqual(wrongHost.json(), UNAUTHORIZED);
      const rightHost = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: acme.admin.auth, headers: { host: ACME_HOST } });
      assert.equal(rightHost.statusCode, 200, rightHost.body);
      assert.equal(rightHost.json<UserEnvelope>().user.id, acme.admin.id);
      const ourAdminThere = await t.request({ method: 'GET', url: '/api/v2/users/me', headers: { host: ACME_HOST } });
      assert.equal(ourAdminThere.statusCode, 401);
      assert.deepEqual(ourAdminThere.json(), UNAUTHORIZED);
    });
  });

  describe('groups and group memberships', () => {
    let groupId: number;
    let otherGroupId: number;

    it('POST /api/v2/groups creates a group (admins only)', async () => {
      const res = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: ' Tier 2 ', description: 'Escalations' } } });
      assert.equal(res.statusCode, 201, res.body);
      const { group } = res.json<{ group: GroupBody }>();
      groupId = group.id;
      assert.equal(group.name, 'Tier 2');
      assert.equal(group.description, 'Escalations');
      assert.equal(group.deleted, false);
      assert.match(group.url, new RegExp(`/api/v2/groups/${group.id}\\.json$`));

      const second = await t.request({ method: 'POST', url: '/api/v2/groups.json', payload: { group: { name: 'Billing' } } });
      assert.equal(second.statusCode, 201, second.body);
      otherGroupId = second.json<{ group: GroupBody }>().group.id;
      assert.equal(second.json<{ group: GroupBody }>().group.description, '');
    });

    it('refuses invalid groups and non-admin creators', async () => {
      const before = await countRows(t.db, 'groups');
      assertValidation(await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: '   ' } } }), 'name');
      assertValidation(await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: {} } }), 'group.name');
      const byAgent = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: 'Agents Club' } }, auth: agent.auth });
      assert.equal(byAgent.statusCode, 403);
      assert.deepEqual(byAgent.json(), FORBIDDEN);
      assert.equal(await countRows(t.db, 'groups'), before);
    });

    it('GET /api/v2/groups lists the account’s groups for agents, not end-users or other accounts', async () => {
      const res = await t.request({ method: 'GET', url: '/api/v2/groups', auth: agent.auth });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<GroupListBody>();
      assert.deepEqual(body.groups.map((g) => g.name), ['Tier 2', 'Billing']);
      assert.equal(body.count, 2);
      assert.equal(body.next_page, null);

      const paged = await t.request({ method: 'GET', url: '/api/v2/groups?per_page=1' });
      const page1 = paged.json<GroupListBody>();
      assert.equal(page1.groups.length, 1);
      assert.equal(page1.count, 2);
      assert.match(page1.next_page ?? '', /^http:\/\/[^/]+\/api\/v2\/groups\.json\?page=2&per_page=1$/);

      const byEndUser = await t.request({ method: 'GET', url: '/api/v2/groups', auth: endUser.auth });
      assert.equal(byEndUser.statusCode, 403);
      assert.deepEqual(byEndUser.json(), FORBIDDEN);

      const acmeList = await t.request({ method: 'GET', url: '/api/v2/groups', auth: acme.admin.auth, headers: { host: ACME_HOST } });
      assert.equal(acmeList.statusCode, 200);
      assert.deepEqual(acmeList.json<GroupListBody>().groups, []);
      assert.equal(acmeList.json<GroupListBody>().count, 0);
    });

    it('POST /api/v2/group_memberships adds an agent to a group', async () => {
      const res = await t.request({ method: 'POST', url: '/api/v2/group_memberships', payload: { group_membership: { user_id: agent.id, group_id: groupId } } });
      assert.equal(res.statusCode, 201, res.body);
      const { group_membership: m } = res.json<{ group_membership: MembershipBody }>();
      assert.equal(m.user_id, agent.id);
      assert.equal(m.group_id, groupId);
      assert.equal(m.default, false);
      assert.match(m.url, new RegExp(`/api/v2/group_memberships/${m.id}\\.json$`));

      const admin = await t.request({
        method: 'POST',
        url: '/api/v2/group_memberships.json',
        payload: { group_membership: { user_id: t.admin.id, group_id: groupId, default: true } },
      });
      assert.equal(admin.statusCode, 201, admin.body);
      assert.equal(admin.json<{ group_membership: MembershipBody }>().group_membership.default, true);
    });

    it('refuses end-users, duplicates, unknown or foreign users and groups with 422', async () => {
      const before = await countRows(t.db, 'group_memberships');
      const post = (user_id: number, group_id: number) =>
        t.request({ method: 'POST', url: '/api/v2/group_memberships', payload: { group_membership: { user_id, group_id } } });
      assertValidation(await post(endUser.id, groupId), 'user_id');
      assertValidation(await post(agent.id, groupId), 'user_id');
      assertValidation(await post(agent.id, 999999), 'group_id');
      assertValidation(await post(999999, groupId), 'user_id');
      assertValidation(await post(acmeAgent.id, groupId), 'user_id');
      const both = assertValidation(await post(999999, 999998), 'user_id');
      assert.ok(both.details['group_id']);
      assertValidation(
        await t.request({ method: 'POST', url: '/api/v2/group_memberships', payload: { group_membership: { user_id: agent.id } } }),
        'group_membership.group_id',
      );
      assert.equal(await countRows(t.db, 'group_memberships'), before);
    });

    it('refuses a group of another account', async () => {
      const acmeGroup = await t.request({
        method: 'POST',
        url: '/api/v2/groups',
        payload: { group: { name: 'Acme Support' } },
        auth: acme.admin.auth,
        headers: { host: ACME_HOST },
      });
      assert.equal(acmeGroup.statusCode, 201, acmeGroup.body);
      const acmeGroupId = acmeGroup.json<{ group: GroupBody }>().group.id;
      const before = await countRows(t.db, 'group_memberships');
      const res = await t.request({ method: 'POST', url: '/api/v2/group_memberships', payload: { group_membership: { user_id: agent.id, group_id: acmeGroupId } } });
      assertValidation(res, 'group_id');
      assert.equal(await countRows(t.db, 'group_memberships'), before);
    });

    it('is admin-only: an agent gets 403 on POST', async () => {
      const before = await countRows(t.db, 'group_memberships');
      const res = await t.request({
        method: 'POST',
        url: '/api/v2/group_memberships',
        payload: { group_membership: { user_id: agent.id, group_id: otherGroupId } },
        auth: agent.auth,
      });
      assert.equal(res.statusCode, 403);
      assert.deepEqual(res.json(), FORBIDDEN);
      assert.equal(await countRows(t.db, 'group_memberships'), before);
    });

    it('refuses concurrent duplicate memberships with 422, never a 500', async () => {
      const racer = await t.createUser('agent');
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          t.request({ method: 'POST', url: '/api/v2/group_memberships', payload: { group_membership: { user_id: racer.id, group_id: otherGroupId } } }),
        ),
      );
      assert.deepEqual(results.map((r) => r.statusCode).sort(), [201, 422, 422, 422, 422, 422], results.map((r) => r.body).join('\n'));
      for (const r of results.filter((x) => x.statusCode === 422)) assertValidation(r, 'user_id');
    });

    it('GET /api/v2/group_memberships lists, filters by group_id and keeps the filter in next_page', async () => {
      const extra = [await t.createUser('agent'), await t.createUser('agent')];
      for (const u of extra) {
        const r = await t.request({ method: 'POST', url: '/api/v2/group_memberships', payload: { group_membership: { user_id: u.id, group_id: groupId } } });
        assert.equal(r.statusCode, 201, r.body);
      }
      const all = await t.request({ method: 'GET', url: '/api/v2/group_memberships', auth: agent.auth });
      assert.equal(all.statusCode, 200, all.body);
      const allBody = all.json<MembershipListBody>();
      assert.equal(allBody.count, allBody.group_memberships.length);
      assert.ok(allBody.group_memberships.some((m) => m.group_id === otherGroupId));

      const filtered = await t.request({ method: 'GET', url: `/api/v2/group_memberships?group_id=${groupId}` });
      const filteredBody = filtered.json<MembershipListBody>();
      assert.ok(filteredBody.group_memberships.every((m) => m.group_id === groupId));
      assert.deepEqual(
        filteredBody.group_memberships.map((m) => m.user_id),
        [agent.id, t.admin.id, ...extra.map((u) => u.id)],
      );
      assert.equal(filteredBody.count, 4);

      const page1 = (await t.request({ method: 'GET', url: `/api/v2/group_memberships?group_id=${groupId}&per_page=3` })).json<MembershipListBody>();
      assert.equal(page1.count, 4);
      assert.ok(page1.next_page);
      assert.equal(new URL(page1.next_page).searchParams.get('group_id'), String(groupId), `next_page drops the filter: ${page1.next_page}`);
      const page2 = (await t.request({ method: 'GET', url: pathOf(page1.next_page) })).json<MembershipListBody>();
      assert.deepEqual(page2.group_memberships.map((m) => m.user_id), [extra[1]!.id]);
      assert.equal(page2.count, 4);

      const byEndUser = await t.request({ method: 'GET', url: '/api/v2/group_memberships', auth: endUser.auth });
      assert.equal(byEndUser.statusCode, 403);
      assert.deepEqual(byEndUser.json(), FORBIDDEN);
    });

    it('DELETE /api/v2/group_memberships/{id} removes an agent from a group: admins only, 204, then 404; accounts apart', async () => {
      const leaver = await t.createUser('agent');
      const created = await t.request({ method: 'POST', url: '/api/v2/group_memberships', payload: { group_membership: { user_id: leaver.id, group_id: groupId } } });
      assert.equal(created.statusCode, 201, created.body);
      const id = created.json<{ group_membership: MembershipBody }>().group_membership.id;
      const members = async () =>
        (await t.request({ method: 'GET', url: `/api/v2/group_memberships?group_id=${groupId}&per_page=100` })).json<MembershipListBody>().group_memberships.map((m) => m.id);

      const byAgent = await t.request({ method: 'DELETE', url: `/api/v2/group_memberships/${id}`, auth: agent.auth });
      assert.equal(byAgent.statusCode, 403);
      assert.deepEqual(byAgent.json(), FORBIDDEN);
      const fromAcme = await t.request({ method: 'DELETE', url: `/api/v2/group_memberships/${id}`, auth: acme.admin.auth, headers: { host: ACME_HOST } });
      assert.equal(fromAcme.statusCode, 404);
      assert.deepEqual(fromAcme.json(), NOT_FOUND);
      assert.ok((await members()).includes(id), 'still a member after the refusals');

      const removed = await t.request({ method: 'DELETE', url: `/api/v2/group_memberships/${id}` });
      assert.equal(removed.statusCode, 204, removed.body);
      assert.equal(removed.body, '');
      assert.ok(!(await members()).includes(id), 'no longer a member');
      const again = await t.request({ method: 'DELETE', url: `/api/v2/group_memberships/${id}` });
      assert.equal(again.statusCode, 404);
      assert.deepEqual(again.json(), NOT_FOUND);
      const malformed = await t.request({ method: 'DELETE', url: '/api/v2/group_memberships/not-a-number' });
      assert.equal(malformed.statusCode, 404);
      assert.deepEqual(malformed.json(), NOT_FOUND);
      const readded = await t.request({ method: 'POST', url: '/api/v2/group_memberships', payload: { group_membership: { user_id: leaver.id, group_id: groupId } } });
      assert.equal(readded.statusCode, 201, 'the agent can join again');
    });
  });

  describe('API tokens', () => {
    let adminToken: ApiTokenBody & { token: string };

    const createToken = async (payload: { description?: string; user_id?: number }, auth?: string) => {
      const res = await t.request({ method: 'POST', url: '/api/v2/api_tokens', payload: { api_token: payload }, auth });
      return res;
    };
    const me = (auth: string, host?: string) => t.request({ method: 'GET', url: '/api/v2/users/me', auth, headers: host ? { host } : {} });

    it('POST /api/v2/api_tokens returns the token once, for the admin by default', async () => {
      const res = await createToken({ description: 'CI robot' });
      assert.equal(res.statusCode, 201, res.body);
      const { api_token: token } = res.json<{ api_token: ApiTokenBody }>();
      assert.equal(typeof token.token, 'string');
      assert.ok(token.token!.length >= 32, token.token);
      assert.equal(token.user_id, t.admin.id);
      assert.equal(token.description, 'CI robot');
      assert.equal(token.active, true);
      assert.equal(token.token_hint, token.token!.slice(-4));
      assert.match(token.url, new RegExp(`/api/v2/api_tokens/${token.id}\\.json$`));
      adminToken = { ...token, token: token.token! };
    });

    it('GET /api/v2/api_tokens lists tokens without the token itself', async () => {
      const res = await t.request({ method: 'GET', url: '/api/v2/api_tokens' });
      assert.equal(res.statusCode, 200, res.body);
      const { api_tokens: tokens } = res.json<{ api_tokens: ApiTokenBody[] }>();
      const listed = tokens.find((x) => x.id === adminToken.id);
      assert.ok(listed, res.body);
      assert.equal(listed.token, undefined);
      assert.equal(listed.token_hint, adminToken.token_hint);
      assert.equal(listed.description, 'CI robot');
      assert.ok(!res.body.includes(adminToken.token), 'the list must not reveal the token');
    });

    it('stores only the sha256 hex of the token', async () => {
      const row = await t.db.selectFrom('api_tokens').selectAll().where('id', '=', adminToken.id).executeTakeFirstOrThrow();
      assert.match(row.token_hash, /^[0-9a-f]{64}$/);
      assert.equal(row.token_hash, createHash('sha256').update(adminToken.token, 'utf8').digest('hex'));
      assert.ok(!JSON.stringify(row).includes(adminToken.token), 'the token itself is not stored');
    });

    it('authenticates with Basic email/token:TOKEN and with Bearer TOKEN', async () => {
      const viaBasic = await me(basic(`${t.admin.email}/token`, adminToken.token));
      assert.equal(viaBasic.statusCode, 200, viaBasic.body);
      assert.equal(viaBasic.json<UserEnvelope>().user.id, t.admin.id);
      const viaUpperEmail = await me(basic(`${t.admin.email.toUpperCase()}/token`, adminToken.token));
      assert.equal(viaUpperEmail.statusCode, 200, viaUpperEmail.body);
      assert.equal(viaUpperEmail.json<UserEnvelope>().user.id, t.admin.id);
      const viaBearer = await me(`Bearer ${adminToken.token}`);
      assert.equal(viaBearer.statusCode, 200, viaBearer.body);
      assert.equal(viaBearer.json<UserEnvelope>().user.id, t.admin.id);
      // A token is not a password.
      const asPassword = await me(basic(t.admin.email, adminToken.token));
      assert.equal(asPassword.statusCode, 401);
      assert.deepEqual(asPassword.json(), UNAUTHORIZED);
    });

    it('refuses the token with another user’s email, and in another account', async () => {
      const otherEmail = await me(basic(`${agent.email}/token`, adminToken.token));
      assert.equal(otherEmail.statusCode, 401);
      assert.deepEqual(otherEmail.json(), UNAUTHORIZED);
      const unknownEmail = await me(basic(`nobody@example.com/token`, adminToken.token));
      assert.equal(unknownEmail.statusCode, 401);
      assert.deepEqual(unknownEmail.json(), UNAUTHORIZED);
      const otherAccount = await me(`Bearer ${adminToken.token}`, ACME_HOST);
      assert.equal(otherAccount.statusCode, 401);
      assert.deepEqual(otherAccount.json(), UNAUTHORIZED);
      const wrongToken = await me(`Bearer ${adminToken.token.slice(0, -1)}${adminToken.token.endsWith('A') ? 'B' : 'A'}`);
      assert.equal(wrongToken.statusCode, 401);
      assert.deepEqual(wrongToken.json(), UNAUTHORIZED);
    });

    it('creates tokens for agents by user_id, refuses end-users, unknown users and non-admin callers', async () => {
      const res = await createToken({ user_id: agent.id, description: 'agent script' });
      assert.equal(res.statusCode, 201, res.body);
      const token = res.json<{ api_token: ApiTokenBody }>().api_token;
      assert.equal(token.user_id, agent.id);
      const asAgent = await me(basic(`${agent.email}/token`, token.token!));
      assert.equal(asAgent.statusCode, 200, asAgent.body);
      assert.equal(asAgent.json<UserEnvelope>().user.id, agent.id);
      const adminEmail = await me(basic(`${t.admin.email}/token`, token.token!));
      assert.equal(adminEmail.statusCode, 401);
      assert.deepEqual(adminEmail.json(), UNAUTHORIZED);

      const before = await countRows(t.db, 'api_tokens');
      assertValidation(await createToken({ user_id: endUser.id }), 'user_id');
      assertValidation(await createToken({ user_id: 999999 }), 'user_id');
      assertValidation(await createToken({ user_id: acmeAgent.id }), 'user_id');
      const byAgent = await createToken({}, agent.auth);
      assert.equal(byAgent.statusCode, 403);
      assert.deepEqual(byAgent.json(), FORBIDDEN);
      const listByAgent = await t.request({ method: 'GET', url: '/api/v2/api_tokens', auth: agent.auth });
      assert.equal(listByAgent.statusCode, 403);
      assert.deepEqual(listByAgent.json(), FORBIDDEN);
      const byToken = await createToken({}, `Bearer ${token.token!}`);
      assert.equal(byToken.statusCode, 403);
      assert.deepEqual(byToken.json(), FORBIDDEN);
      assert.equal(await countRows(t.db, 'api_tokens'), before);
    });

    it('another account cannot revoke the token', async () => {
      const res = await t.request({ method: 'DELETE', url: `/api/v2/api_tokens/${adminToken.id}`, auth: acme.admin.auth, headers: { host: ACME_HOST } });
      assert.equal(res.statusCode, 404);
      assert.deepEqual(res.json(), NOT_FOUND);
      const still = await me(`Bearer ${adminToken.token}`);
      assert.equal(still.statusCode, 200, still.body);
      assert.equal(still.json<UserEnvelope>().user.id, t.admin.id);
    });

    it('DELETE revokes immediately, even though the verified header is cached', async () => {
      const basicHeader = basic(`${t.admin.email}/token`, adminToken.token);
      const bearerHeader = `Bearer ${adminToken.token}`;
      // Warm the authenticator's cache with both headers.
      for (const header of [basicHeader, bearerHeader, basicHeader]) {
        const warm = await me(header);
        assert.equal(warm.statusCode, 200, warm.body);
      }
      const res = await t.request({ method: 'DELETE', url: `/api/v2/api_tokens/${adminToken.id}` });
      assert.equal(res.statusCode, 204);
      assert.equal(res.body, '');
      for (const header of [basicHeader, bearerHeader]) {
        const after = await me(header);
        assert.equal(after.statusCode, 401, after.body);
        assert.deepEqual(after.json(), UNAUTHORIZED);
      }
      // The admin's password still works, and the token is gone from the list and the table.
      const list = await t.request({ method: 'GET', url: '/api/v2/api_tokens' });
      assert.equal(list.statusCode, 200, list.body);
      assert.ok(!list.json<{ api_tokens: ApiTokenBody[] }>().api_tokens.some((x) => x.id === adminToken.id));
      const rows = await t.db.selectFrom('api_tokens').select('id').where('id', '=', adminToken.id).execute();
      assert.equal(rows.length, 0);

      const again = await t.request({ method: 'DELETE', url: `/api/v2/api_tokens/${adminToken.id}` });
      assert.equal(again.statusCode, 404);
      assert.deepEqual(again.json(), NOT_FOUND);
      const bogus = await t.request({ method: 'DELETE', url: '/api/v2/api_tokens/abc' });
      assert.equal(bogus.statusCode, 404);
      assert.deepEqual(bogus.json(), NOT_FOUND);
    });
  });
});
