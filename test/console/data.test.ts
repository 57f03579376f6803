import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestApp, type TestApp, type TestUser } from '../helpers/app.js';
import { expectStatus, NOT_FOUND, pathOf } from '../helpers/api.js';
import type { PageBody, WriteBody } from '../helpers/api-types.js';
import { signIn } from '../helpers/console.js';

// The console's own reads: ticket_list (filters, paging, people, counts), read markers and
// Zendesk's users/autocomplete, each scoped to the caller's account.

interface Person {
  id: number;
  name: string;
  email: string | null;
}
interface ConsoleTicket {
  id: number;
  subject: string;
  status: string;
  updated_at: string;
  requester: Person | null;
  assignee: Person | null;
  side_conversation_count: number;
  unread_count: number;
}
interface TicketListBody extends PageBody {
  tickets: ConsoleTicket[];
}
interface Marker {
  side_conversation_id: string;
  last_read_at: string | null;
  unread_count: number;
}
interface UserListBody extends PageBody {
  users: Array<{ id: number; name: string; email: string | null; role: string }>;
}

let t: TestApp;
let me: TestUser;
let colleague: TestUser;
let customer: TestUser;
const ids: Record<'fresh' | 'mine' | 'waiting' | 'done' | 'team' | 'elsewhere', number> = { fresh: 0, mine: 0, waiting: 0, done: 0, team: 0, elsewhere: 0 };
let sc1 = '';
let sc2 = '';

async function createTicket(subject: string, fields: Record<string, unknown> = {}): Promise<number> {
  const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject, comment: { body: subject }, ...fields } } });
  expectStatus(res, 201);
  return res.json<{ ticket: { id: number } }>().ticket.id;
}

async function startSc(ticketId: number, as: TestUser, body: string): Promise<string> {
  const res = await t.request({
    method: 'POST',
    url: `/api/v2/tickets/${ticketId}/side_conversations`,
    auth: as.auth,
    payload: { message: { body, to: [{ email: 'outside@example.org' }] } },
  });
  expectStatus(res, 201);
  return res.json<WriteBody>().side_conversation.id;
}

async function reply(ticketId: number, scId: string, as: TestUser, body: string): Promise<void> {
  const res = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/reply`, auth: as.auth, payload: { message: { body } } });
  expectStatus(res, 200);
}

async function list(query: string, as: TestUser = me): Promise<TicketListBody> {
  const res = await t.request({ method: 'GET', url: `/api/v2/sideline/ticket_list${query}`, auth: as.auth });
  expectStatus(res, 200);
  return res.json<TicketListBody>();
}

async function markers(ticketId: number, as: TestUser = me): Promise<Marker[]> {
  const res = await t.request({ method: 'GET', url: `/api/v2/sideline/tickets/${ticketId}/read_markers`, auth: as.auth });
  expectStatus(res, 200);
  return res.json<{ read_markers: Marker[] }>().read_markers;
}

before(async () => {
  t = await startTestApp();
  me = await t.createUser('agent', 'Mia Agent');
  colleague = await t.createUser('agent', 'Colin Colleague');
  customer = await t.createUser('end-user', 'Cora Customer');
  const group = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: 'Team' } } });
  expectStatus(group, 201);
  const groupId = group.json<{ group: { id: number } }>().group.id;
  const other = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: 'Elsewhere' } } });
  const otherGroupId = other.json<{ group: { id: number } }>().group.id;
  for (const [user_id, group_id] of [
    [me.id, groupId],
    [colleague.id, otherGroupId],
  ]) {
    expectStatus(await t.request({ method: 'POST', url: '/api/v2/group_memberships', payload: { group_membership: { user_id, group_id } } }), 201);
  }
  ids.fresh = await createTicket('Fresh', { requester_id: customer.id });
  ids.mine = await createTicket('Mine', { assignee_id: me.id, status: 'open' });
  ids.waiting = await createTicket('Waiting', { assignee_id: me.id, status: 'pending' });
  ids.done = await createTicket('Done', { assignee_id: me.id, status: 'solved' });
  ids.team = await createTicket('Team', { group_id: groupId, status: 'open' });
  ids.elsewhere = await createTicket('Elsewhere', { group_id: otherGroupId, assignee_id: colleague.id, status: 'hold' });
  sc1 = await startSc(ids.fresh, me, 'first question');
  sc2 = await startSc(ids.fresh, me, 'second question');
  await reply(ids.fresh, sc1, colleague, 'a colleague answers');
});
after(async () => t.close());

describe('ticket_list', () => {
  it('filters: open (new+open), pending, solved, assigned to me, my groups, all', async () => {
    const idsOf = async (filter: string) => new Set((await list(`?filter=${filter}`)).tickets.map((x) => x.id));
    assert.deepEqual(await idsOf('open'), new Set([ids.fresh, ids.mine, ids.team]));
    assert.deepEqual(await idsOf('pending'), new Set([ids.waiting]));
    assert.deepEqual(await idsOf('solved'), new Set([ids.done]));
    assert.deepEqual(await idsOf('assigned_to_me'), new Set([ids.mine, ids.waiting]));
    assert.deepEqual(await idsOf('my_groups'), new Set([ids.team]));
    assert.deepEqual(await idsOf('all'), new Set(Object.values(ids)));
    assert.equal((await list('')).count, 6, 'no filter means all');
    const theirs = await list('?filter=my_groups', colleague);
    assert.deepEqual(theirs.tickets.map((x) => x.id), [ids.elsewhere]);
  });

  it('lists the most recently updated first', async () => {
    await sleep(1_100); // updated_at is shown to the second
    expectStatus(await t.request({ method: 'PUT', url: `/api/v2/tickets/${ids.done}`, payload: { ticket: { comment: { body: 'bump' } } } }), 200);
    const all = (await list('?filter=all')).tickets;
    assert.equal(all[0]!.id, ids.done);
    const times = all.map((x) => Date.parse(x.updated_at));
    assert.deepEqual([...times].sort((a, b) => b - a), times);
  });

  it('carries the requester, the assignee and the Zendesk ticket fields', async () => {
    const all = (await list('?filter=all')).tickets;
    const fresh = all.find((x) => x.id === ids.fresh)!;
    assert.deepEqual(fresh.requester, { id: customer.id, name: 'Cora Customer', email: customer.email });
    assert.equal(fresh.assignee, null);
    assert.equal(fresh.subject, 'Fresh');
    assert.equal(fresh.status, 'new');
    const mine = all.find((x) => x.id === ids.mine)!;
    assert.deepEqual(mine.assignee, { id: me.id, name: 'Mia Agent', email: me.email });
  });

  it('counts side conversations and the caller’s unread events (not their own)', async () => {
    const fresh = (await list('?filter=open')).tickets.find((x) => x.id === ids.fresh)!;
    assert.equal(fresh.side_conversation_count, 2);
    assert.equal(fresh.unread_count, 1, 'the colleague’s reply; my two creates are mine');
    const forColleague = (await list('?filter=open', colleague)).tickets.find((x) => x.id === ids.fresh)!;
    assert.equal(forColleague.unread_count, 2, 'my two creates; their own reply is theirs');
    const mine = (await list('?filter=open')).tickets.find((x) => x.id === ids.mine)!;
    assert.equal(mine.side_conversation_count, 0);
    assert.equal(mine.unread_count, 0);
  });

  it('pages with count and absolute links that keep the filter', async () => {
    const first = await list('?filter=all&per_page=4');
    assert.equal(first.count, 6);
    assert.equal(first.tickets.length, 4);
    assert.equal(first.previous_page, null);
    assert.ok(first.next_page);
    const next = new URL(first.next_page);
    assert.equal(next.pathname, '/api/v2/sideline/ticket_list');
    assert.equal(next.searchParams.get('filter'), 'all');
    assert.equal(next.searchParams.get('page'), '2');
    const res = await t.request({ method: 'GET', url: pathOf(first.next_page), auth: me.auth });
    const second = res.json<TicketListBody>();
    assert.equal(second.tickets.length, 2);
    assert.equal(second.next_page, null);
    assert.ok(second.previous_page);
    const seen = new Set([...first.tickets, ...second.tickets].map((x) => x.id));
    assert.equal(seen.size, 6);
  });

  it('refuses an unknown filter with 400 and end-users with 403', async () => {
    const bad = await t.request({ method: 'GET', url: '/api/v2/sideline/ticket_list?filter=everything', auth: me.auth });
    assert.equal(bad.statusCode, 400, bad.body);
    const endUser = await t.request({ method: 'GET', url: '/api/v2/sideline/ticket_list', auth: customer.auth });
    assert.equal(endUser.statusCode, 403, endUser.body);
    const nobody = await t.request({ method: 'GET', url: '/api/v2/sideline/ticket_list', auth: null });
    assert.equal(nobody.statusCode, 401, nobody.body);
  });
});

describe('read markers', () => {
  it('lists one marker per side conversation of the ticket, unread before any read', async () => {
    const before = await markers(ids.fresh);
    assert.deepEqual(before, [
      { side_conversation_id: sc1, last_read_at: null, unread_count: 1 },
      { side_conversation_id: sc2, last_read_at: null, unread_count: 0 },
    ]);
    assert.deepEqual(await markers(ids.mine), []);
  });

  it('PUT …/read marks everything up to now read, for the caller only, until someone else writes', async () => {
    const res = await t.request({ method: 'PUT', url: `/api/v2/sideline/side_conversations/${sc1}/read`, auth: me.auth });
    expectStatus(res, 200);
    const { read_marker } = res.json<{ read_marker: Marker }>();
    assert.equal(read_marker.side_conversation_id, sc1);
    assert.equal(read_marker.unread_count, 0);
    assert.ok(read_marker.last_read_at && !Number.isNaN(Date.parse(read_marker.last_read_at)));

    const after = await markers(ids.fresh);
    assert.deepEqual(after[0], { side_conversation_id: sc1, last_read_at: read_marker.last_read_at, unread_count: 0 });
    assert.equal((await list('?filter=open')).tickets.find((x) => x.id === ids.fresh)!.unread_count, 0);
    // The colleague's own view is untouched.
    assert.deepEqual((await markers(ids.fresh, colleague)).map((m) => m.unread_count), [1, 1]);

    // My own reply does not make it unread; the colleague's next one does.
    await reply(ids.fresh, sc1, me, 'thanks');
    assert.equal((await markers(ids.fresh))[0]!.unread_count, 0);
    await reply(ids.fresh, sc1, colleague, 'one more thing');
    assert.equal((await markers(ids.fresh))[0]!.unread_count, 1);
    assert.equal((await list('?filter=open')).tickets.find((x) => x.id === ids.fresh)!.unread_count, 1);

    // Read again: the marker moves on.
    const again = await t.request({ method: 'PUT', url: `/api/v2/sideline/side_conversations/${sc1}/read`, auth: me.auth });
    expectStatus(again, 200);
    assert.ok(Date.parse(again.json<{ read_marker: Marker }>().read_marker.last_read_at!) >= Date.parse(read_marker.last_read_at));
    assert.equal((await markers(ids.fresh))[0]!.unread_count, 0);
  });

  it('works with the console session cookie (and its CSRF token for PUT)', async () => {
    const { cookie, csrf } = await signIn(t, me);
    const refused = await t.request({ method: 'PUT', url: `/api/v2/sideline/side_conversations/${sc2}/read`, auth: null, headers: { cookie } });
    assert.equal(refused.statusCode, 403, refused.body);
    const ok = await t.request({ method: 'PUT', url: `/api/v2/sideline/side_conversations/${sc2}/read`, auth: null, headers: { cookie, 'x-csrf-token': csrf } });
    expectStatus(ok, 200);
    const read = await t.request({ method: 'GET', url: `/api/v2/sideline/tickets/${ids.fresh}/read_markers`, auth: null, headers: { cookie } });
    expectStatus(read, 200);
  });

  it('answers 404 for unknown or malformed ids', async () => {
    for (const [method, url] of [
      ['GET', '/api/v2/sideline/tickets/99999/read_markers'],
      ['GET', '/api/v2/sideline/tickets/abc/read_markers'],
      ['PUT', '/api/v2/sideline/side_conversations/00000000-0000-4000-8000-000000000000/read'],
      ['PUT', '/api/v2/sideline/side_conversations/not-a-uuid/read'],
    ] as const) {
      const res = await t.request({ method, url, auth: me.auth });
      assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
    }
  });
});

describe('account scoping', () => {
  it('another account sees none of these tickets, markers or conversations', async () => {
    const other = await t.createAccount('elsewhereco');
    await sleep(1_100); // the account resolver sees a new account within a second
    const host = 'elsewhereco.example.com';
    const as = (url: string, method: 'GET' | 'PUT' = 'GET') => t.request({ method, url, auth: other.admin.auth, headers: { host } });
    const listed = await as('/api/v2/sideline/ticket_list?filter=all');
    expectStatus(listed, 200);
    assert.equal(listed.json<TicketListBody>().count, 0);
    for (const [url, method] of [
      [`/api/v2/sideline/tickets/${ids.fresh}/read_markers`, 'GET'],
      [`/api/v2/sideline/side_conversations/${sc1}/read`, 'PUT'],
    ] as const) {
      const res = await as(url, method);
      assert.equal(res.statusCode, 404, `${url}: ${res.body}`);
      assert.deepEqual(res.json(), NOT_FOUND);
    }
    const found = await as(`/api/v2/users/autocomplete?name=${encodeURIComponent('Mia')}`);
    expectStatus(found, 200);
    assert.equal(found.json<UserListBody>().count, 0);
    assert.equal(await t.db.selectFrom('read_markers').select('user_id').where('user_id', '=', other.admin.id).executeTakeFirst(), undefined);
  });
});

describe('users/autocomplete', () => {
  before(async () => {
    for (const [name, email] of [
      ['Zebulon Quark', 'zq@example.net'],
      ['Quinn Zebra', 'quinn@example.net'],
      ['Plain Person', 'zeb.plain@example.net'],
      ['Gone Zebedee', 'gone@example.net'],
      ['Per%cent', 'percent@example.net'],
    ] as const) {
      const res = await t.request({ method: 'POST', url: '/api/v2/users', payload: { user: { name, email, role: 'end-user' } } });
      expectStatus(res, 201);
      if (name.startsWith('Gone')) {
        await t.db.updateTable('users').set({ active: false }).where('email', '=', email).execute();
      }
    }
  });

  async function names(query: string, as: TestUser = me): Promise<string[]> {
    const res = await t.request({ method: 'GET', url: `/api/v2/users/autocomplete?${query}`, auth: as.auth });
    expectStatus(res, 200);
    return res.json<UserListBody>().users.map((u) => u.name);
  }

  it('finds active users by name or email, those starting with the text first', async () => {
    assert.deepEqual(await names('name=zeb'), ['Plain Person', 'Zebulon Quark', 'Quinn Zebra']);
    assert.deepEqual(await names('name=QUINN'), ['Quinn Zebra']);
    assert.deepEqual(await names('name=zq%40example'), ['Zebulon Quark']);
  });

  it('takes % and _ literally', async () => {
    assert.deepEqual(await names(`name=${encodeURIComponent('%')}`), ['Per%cent']);
    assert.deepEqual(await names('name=_'), []);
  });

  it('pages like Zendesk lists', async () => {
    const res = await t.request({ method: 'GET', url: '/api/v2/users/autocomplete?name=zeb&per_page=2', auth: me.auth });
    const body = res.json<UserListBody>();
    assert.equal(body.count, 3);
    assert.equal(body.users.length, 2);
    assert.ok(body.next_page?.includes('name=zeb'), String(body.next_page));
  });

  it('needs a name (400), and an agent (403 for end-users)', async () => {
    for (const url of ['/api/v2/users/autocomplete', '/api/v2/users/autocomplete?name=']) {
      const res = await t.request({ method: 'GET', url, auth: me.auth });
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
    }
    const endUser = await t.request({ method: 'GET', url: '/api/v2/users/autocomplete?name=zeb', auth: customer.auth });
    assert.equal(endUser.statusCode, 403, endUser.body);
  });

  it('does not shadow GET /api/v2/users/:id', async () => {
    const res = await t.request({ method: 'GET', url: `/api/v2/users/${me.id}.json`, auth: me.auth });
    expectStatus(res, 200);
  });
});
