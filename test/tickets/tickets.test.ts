import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { countRows, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { assertValidation, FORBIDDEN, NOT_FOUND, UNAUTHORIZED } from '../helpers/api.js';
import type { PageBody } from '../helpers/api-types.js';

interface TicketBody {
  id: number;
  url: string;
  via: { channel: string };
  created_at: string;
  updated_at: string;
  subject: string;
  raw_subject: string;
  description: string;
  priority: string | null;
  status: string;
  requester_id: number;
  submitter_id: number;
  assignee_id: number | null;
  group_id: number | null;
  tags: string[];
}
interface TicketEnvelope {
  ticket: TicketBody;
}
interface TicketListBody extends PageBody {
  tickets: TicketBody[];
}
interface CommentBody {
  id: number;
  type: string;
  author_id: number;
  body: string;
  html_body: string;
  plain_body: string;
  public: boolean;
  created_at: string;
}
interface CommentListBody extends PageBody {
  comments: CommentBody[];
}

const ACME_HOST = 'acme.localhost';
const BURST_HOST = 'burst.localhost';

function assertNotFound(res: LightMyRequestResponse, label = ''): void {
  assert.equal(res.statusCode, 404, `${label} ${res.body}`);
  assert.deepEqual(res.json(), NOT_FOUND);
}

describe(`tickets (${STORE_KIND})`, () => {
  let t: TestApp;
  let acme: { accountId: number; admin: TestUser };
  let burst: { accountId: number; admin: TestUser };
  let agent: TestUser;
  let outsider: TestUser; // an agent in no group
  let endUser: TestUser;
  let acmeAgent: TestUser;
  let groupId: number;
  let otherGroupId: number;
  let acmeGroupId: number;

  const post = (ticket: Record<string, unknown>, options: { auth?: string | null; host?: string } = {}) =>
    t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket }, auth: options.auth, headers: options.host ? { host: options.host } : {} });
  const put = (id: number | string, ticket: Record<string, unknown>, options: { auth?: string | null; host?: string } = {}) =>
    t.request({ method: 'PUT', url: `/api/v2/tickets/${id}`, payload: { ticket }, auth: options.auth, headers: options.host ? { host: options.host } : {} });
  const show = async (id: number, host?: string, auth?: string): Promise<TicketBody> => {
    const res = await t.request({ method: 'GET', url: `/api/v2/tickets/${id}`, auth, headers: host ? { host } : {} });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<TicketEnvelope>().ticket;
  };
  const comments = async (id: number): Promise<CommentBody[]> => {
    const res = await t.request({ method: 'GET', url: `/api/v2/tickets/${id}/comments` });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<CommentListBody>();
    assert.equal(body.count, body.comments.length);
    return body.comments;
  };

  before(async () => {
    t = await startTestApp();
    // Accounts first: the account resolver loads its map on the first request.
    acme = await t.createAccount('acme');
    burst = await t.createAccount('burst');
    agent = await t.createUser('agent', 'Grouped Agent');
    outsider = await t.createUser('agent', 'Lone Agent');
    endUser = await t.createUser('end-user', 'Customer');
    acmeAgent = await t.createUser('agent', 'Acme Agent', acme.accountId);

    const g1 = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: 'Support' } } });
    const g2 = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: 'Billing' } } });
    const g3 = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: 'Acme' } }, auth: acme.admin.auth, headers: { host: ACME_HOST } });
    assert.equal(g1.statusCode, 201, g1.body);
    assert.equal(g2.statusCode, 201, g2.body);
    assert.equal(g3.statusCode, 201, g3.body);
    groupId = g1.json<{ group: { id: number } }>().group.id;
    otherGroupId = g2.json<{ group: { id: number } }>().group.id;
    acmeGroupId = g3.json<{ group: { id: number } }>().group.id;
    const m = await t.request({ method: 'POST', url: '/api/v2/group_memberships', payload: { group_membership: { user_id: agent.id, group_id: groupId } } });
    assert.equal(m.statusCode, 201, m.body);
  });
  after(async () => t.close());

  describe('POST /api/v2/tickets', () => {
    it('creates ticket 1 with status new when nobody is assigned', async () => {
      const res = await post({ subject: 'Printer on fire', comment: { body: 'The smoke is very colorful.' } });
      assert.equal(res.statusCode, 201, res.body);
      const { ticket } = res.json<TicketEnvelope>();
      assert.equal(ticket.id, 1);
      assert.equal(ticket.subject, 'Printer on fire');
      assert.equal(ticket.raw_subject, 'Printer on fire');
      assert.equal(ticket.description, 'The smoke is very colorful.');
      assert.equal(ticket.status, 'new');
      assert.equal(ticket.priority, null);
      assert.equal(ticket.requester_id, t.admin.id);
      assert.equal(ticket.submitter_id, t.admin.id);
      assert.equal(ticket.assignee_id, null);
      assert.equal(ticket.group_id, null);
      assert.equal(ticket.via.channel, 'api');
      assert.deepEqual(ticket.tags, []);
      assert.match(ticket.url, /^https?:\/\/[^/]+\/api\/v2\/tickets\/1\.json$/);
      assert.match(ticket.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

      const first = await comments(1);
      assert.equal(first.length, 1);
      assert.equal(first[0]!.body, 'The smoke is very colorful.');
      assert.equal(first[0]!.html_body, '<div class="zd-comment"><p>The smoke is very colorful.</p></div>');
      assert.equal(first[0]!.author_id, t.admin.id);
      assert.equal(first[0]!.public, true);
    });

    it('creates ticket 2 with requester, group and a member assignee: status open', async () => {
      const res = await post({
        subject: 'Refund',
        comment: { body: 'Please refund me' },
        requester_id: endUser.id,
        group_id: groupId,
        assignee_id: agent.id,
      });
      assert.equal(res.statusCode, 201, res.body);
      const { ticket } = res.json<TicketEnvelope>();
      assert.equal(ticket.id, 2);
      assert.equal(ticket.status, 'open');
      assert.equal(ticket.requester_id, endUser.id);
      assert.equal(ticket.submitter_id, t.admin.id);
      assert.equal(ticket.group_id, groupId);
      assert.equal(ticket.assignee_id, agent.id);
    });

    it('an assignee without a group is open too; an agent may create tickets', async () => {
      const res = await post({ subject: 'Assigned', comment: { body: 'x' }, assignee_id: outsider.id }, { auth: agent.auth });
      assert.equal(res.statusCode, 201, res.body);
      const { ticket } = res.json<TicketEnvelope>();
      assert.equal(ticket.id, 3);
      assert.equal(ticket.status, 'open');
      assert.equal(ticket.assignee_id, outsider.id);
      assert.equal(ticket.submitter_id, agent.id);
      assert.equal(ticket.requester_id, agent.id);
    });

    it('derives the subject from the comment when none is given', async () => {
      const res = await post({ comment: { body: 'No subject here,\njust a body' } });
      assert.equal(res.statusCode, 201, res.body);
      const { ticket } = res.json<TicketEnvelope>();
      assert.equal(ticket.id, 4);
      assert.equal(ticket.subject, 'No subject here, just a body');
    });

    it('refuses assignees that are not agents, not group members or of another account', async () => {
      const before = await countRows(t.db, 'tickets');
      assertValidation(await post({ comment: { body: 'x' }, assignee_id: endUser.id }), 'assignee_id');
      assertValidation(await post({ comment: { body: 'x' }, group_id: groupId, assignee_id: outsider.id }), 'assignee_id');
      assertValidation(await post({ comment: { body: 'x' }, group_id: otherGroupId, assignee_id: agent.id }), 'assignee_id');
      assertValidation(await post({ comment: { body: 'x' }, assignee_id: acmeAgent.id }), 'assignee_id');
      assertValidation(await post({ comment: { body: 'x' }, assignee_id: 999999 }), 'assignee_id');
      assert.equal(await countRows(t.db, 'tickets'), before);
    });

    it('refuses unknown requesters and groups, including another account’s', async () => {
      const before = await countRows(t.db, 'tickets');
      assertValidation(await post({ comment: { body: 'x' }, requester_id: 999999 }), 'requester_id');
      assertValidation(await post({ comment: { body: 'x' }, requester_id: acme.admin.id }), 'requester_id');
      assertValidation(await post({ comment: { body: 'x' }, group_id: 999999 }), 'group_id');
      assertValidation(await post({ comment: { body: 'x' }, group_id: acmeGroupId }), 'group_id');
      assert.equal(await countRows(t.db, 'tickets'), before);
    });

    it('refuses a missing or blank comment body', async () => {
      const before = await countRows(t.db, 'tickets');
      const beforeComments = await countRows(t.db, 'ticket_comments');
      assertValidation(await post({ subject: 'No body', comment: {} }), 'comment');
      assertValidation(await post({ subject: 'Blank body', comment: { body: '   \n ' } }), 'comment');
      assertValidation(await post({ subject: 'No comment' }), 'ticket.comment');
      assertValidation(await post({ subject: 'Wrong type', comment: { body: 42 } }), 'ticket.comment.body');
      assertValidation(
        await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { subject: 'no envelope' } }),
        'ticket',
      );
      assert.equal(await countRows(t.db, 'tickets'), before);
      assert.equal(await countRows(t.db, 'ticket_comments'), beforeComments);
    });

    it('refused creates do not consume ticket ids', async () => {
      const res = await post({ subject: 'After refusals', comment: { body: 'next' } });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.json<TicketEnvelope>().ticket.id, 5);
    });

    it('numbers tickets per account: another account’s first ticket is also 1, and each sees only its own', async () => {
      const res = await post({ subject: 'Acme first', comment: { body: 'hello from acme' } }, { auth: acme.admin.auth, host: ACME_HOST });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.json<TicketEnvelope>().ticket.id, 1);
      assert.equal(res.json<TicketEnvelope>().ticket.requester_id, acme.admin.id);

      assert.equal((await show(1, ACME_HOST, acme.admin.auth)).subject, 'Acme first');
      assert.equal((await show(1)).subject, 'Printer on fire');

      const acmeList = await t.request({ method: 'GET', url: '/api/v2/tickets', auth: acme.admin.auth, headers: { host: ACME_HOST } });
      assert.equal(acmeList.statusCode, 200, acmeList.body);
      const acmeBody = acmeList.json<TicketListBody>();
      assert.equal(acmeBody.count, 1);
      assert.deepEqual(acmeBody.tickets.map((x) => x.subject), ['Acme first']);

      const ourList = await t.request({ method: 'GET', url: '/api/v2/tickets' });
      const ourBody = ourList.json<TicketListBody>();
      assert.ok(!ourBody.tickets.some((x) => x.subject === 'Acme first'));
      assert.deepEqual(ourBody.tickets.map((x) => x.id), [1, 2, 3, 4, 5]);

      const acmeComments = await t.request({ method: 'GET', url: '/api/v2/tickets/1/comments', auth: acme.admin.auth, headers: { host: ACME_HOST } });
      assert.deepEqual(acmeComments.json<CommentListBody>().comments.map((c) => c.body), ['hello from acme']);
      assert.deepEqual((await comments(1)).map((c) => c.body), ['The smoke is very colorful.']);
    });

    it('20 concurrent creates get ids exactly 1..20', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => post({ subject: `Burst ${i}`, comment: { body: `burst ${i}` } }, { auth: burst.admin.auth, host: BURST_HOST })),
      );
      for (const r of results) assert.equal(r.statusCode, 201, r.body);
      const ids = results.map((r) => r.json<TicketEnvelope>().ticket.id).sort((a, b) => a - b);
      assert.deepEqual(ids, Array.from({ length: 20 }, (_, i) => i + 1));
      // Each id belongs to the ticket whose body says so.
      for (const r of results) {
        const { ticket } = r.json<TicketEnvelope>();
        assert.equal(ticket.description, ticket.subject.toLowerCase());
      }
      const list = await t.request({ method: 'GET', url: '/api/v2/tickets', auth: burst.admin.auth, headers: { host: BURST_HOST } });
      const body = list.json<TicketListBody>();
      assert.equal(body.count, 20);
      assert.deepEqual(body.tickets.map((x) => x.id), ids);
      assert.equal(new Set(body.tickets.map((x) => x.subject)).size, 20);
    });
  });

  describe('GET /api/v2/tickets and /api/v2/tickets/{id}', () => {
    it('lists with pagination', async () => {
      const all = await t.request({ method: 'GET', url: '/api/v2/tickets' });
      assert.equal(all.statusCode, 200, all.body);
      const body = all.json<TicketListBody>();
      assert.equal(body.count, 5);
      assert.equal(body.next_page, null);
      assert.equal(body.previous_page, null);

      const page2 = await t.request({ method: 'GET', url: '/api/v2/tickets?page=2&per_page=2' });
      const p2 = page2.json<TicketListBody>();
      assert.deepEqual(p2.tickets.map((x) => x.id), [3, 4]);
      assert.equal(p2.count, 5);
      assert.match(p2.next_page ?? '', /^http:\/\/[^/]+\/api\/v2\/tickets\.json\?page=3&per_page=2$/);
      assert.match(p2.previous_page ?? '', /^http:\/\/[^/]+\/api\/v2\/tickets\.json\?page=1&per_page=2$/);

      const page3 = await t.request({ method: 'GET', url: '/api/v2/tickets?page=3&per_page=2' });
      assert.deepEqual(page3.json<TicketListBody>().tickets.map((x) => x.id), [5]);
      assert.equal(page3.json<TicketListBody>().next_page, null);
    });

    it('shows a ticket', async () => {
      const ticket = await show(2);
      assert.equal(ticket.id, 2);
      assert.equal(ticket.subject, 'Refund');
      assert.equal(ticket.assignee_id, agent.id);
      assert.equal(ticket.status, 'open');
    });

    it('answers 404 RecordNotFound for unknown, malformed and other accounts’ ids', async () => {
      for (const id of ['999', '0', '-3', 'abc', '2.5', '99999999999999999999']) {
        assertNotFound(await t.request({ method: 'GET', url: `/api/v2/tickets/${id}` }), id);
        assertNotFound(await t.request({ method: 'GET', url: `/api/v2/tickets/${id}/comments` }), id);
      }
      // Ticket 2 exists here, but not in acme (which has only ticket 1).
      assertNotFound(await t.request({ method: 'GET', url: '/api/v2/tickets/2', auth: acme.admin.auth, headers: { host: ACME_HOST } }));
      assertNotFound(await t.request({ method: 'GET', url: '/api/v2/tickets/2/comments', auth: acme.admin.auth, headers: { host: ACME_HOST } }));
    });
  });

  describe('PUT /api/v2/tickets/{id}', () => {
    it('changes subject, status and priority', async () => {
      const res = await put(1, { subject: 'Printer still on fire', status: 'pending', priority: 'urgent' });
      assert.equal(res.statusCode, 200, res.body);
      const { ticket } = res.json<TicketEnvelope>();
      assert.equal(ticket.id, 1);
      assert.equal(ticket.subject, 'Printer still on fire');
      assert.equal(ticket.status, 'pending');
      assert.equal(ticket.priority, 'urgent');
      const shown = await show(1);
      assert.equal(shown.subject, 'Printer still on fire');
      assert.equal(shown.status, 'pending');
      assert.equal(shown.priority, 'urgent');
      assert.equal(shown.description, 'The smoke is very colorful.');
    });

    it('refuses an unknown status or priority', async () => {
      assertValidation(await put(1, { status: 'exploded' }), 'ticket.status');
      assertValidation(await put(1, { priority: 'meh' }), 'ticket.priority');
      assert.equal((await show(1)).status, 'pending');
    });

    it('assigns a group and a member agent, and refuses non-members and end-users', async () => {
      const ok = await put(1, { group_id: groupId, assignee_id: agent.id });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json<TicketEnvelope>().ticket.group_id, groupId);
      assert.equal(ok.json<TicketEnvelope>().ticket.assignee_id, agent.id);

      assertValidation(await put(1, { assignee_id: outsider.id }), 'assignee_id');
      assertValidation(await put(1, { assignee_id: endUser.id }), 'assignee_id');
      assertValidation(await put(1, { assignee_id: acmeAgent.id }), 'assignee_id');
      assertValidation(await put(1, { group_id: 999999 }), 'group_id');
      assertValidation(await put(1, { group_id: acmeGroupId, assignee_id: agent.id }), 'group_id');
      const unchanged = await show(1);
      assert.equal(unchanged.group_id, groupId);
      assert.equal(unchanged.assignee_id, agent.id);
    });

    it('moving to a group the assignee is not in unassigns the ticket', async () => {
      const res = await put(1, { group_id: otherGroupId });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<TicketEnvelope>().ticket.group_id, otherGroupId);
      assert.equal(res.json<TicketEnvelope>().ticket.assignee_id, null);
      const cleared = await put(1, { group_id: null });
      assert.equal(cleared.statusCode, 200, cleared.body);
      assert.equal(cleared.json<TicketEnvelope>().ticket.group_id, null);
      const assigned = await put(1, { assignee_id: outsider.id });
      assert.equal(assigned.statusCode, 200, assigned.body);
      assert.equal(assigned.json<TicketEnvelope>().ticket.assignee_id, outsider.id);
    });

    it('adds an escaped comment, visible in the comments list, and opens a new ticket', async () => {
      assert.equal((await show(4)).status, 'new');
      const res = await put(4, { comment: { body: '<script>alert(1)</script>' } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<TicketEnvelope>().ticket.status, 'open');
      assert.ok(!res.body.includes('<script>'));

      const list = await comments(4);
      assert.equal(list.length, 2);
      const added = list[1]!;
      assert.equal(added.body, '<script>alert(1)</script>');
      assert.equal(added.plain_body, '<script>alert(1)</script>');
      assert.equal(added.html_body, '<div class="zd-comment"><p>&lt;script&gt;alert(1)&lt;/script&gt;</p></div>');
      assert.equal(added.author_id, t.admin.id);
      assert.equal(added.public, true);
      assert.equal(added.type, 'Comment');
      assert.ok(added.id > list[0]!.id);
    });

    it('renders paragraphs and line breaks, keeps private comments private, sanitises client HTML', async () => {
      const res = await put(4, { comment: { body: 'Line one\nline two & "more"\n\nSecond paragraph', public: false } }, { auth: agent.auth });
      assert.equal(res.statusCode, 200, res.body);
      const html = await put(4, { comment: { html_body: '<p onclick="steal()">Hi <b>there</b></p><script>alert(2)</script><a href="javascript:alert(3)">x</a>' } });
      assert.equal(html.statusCode, 200, html.body);

      const list = await comments(4);
      assert.equal(list.length, 4);
      const [, , para, sanitised] = list;
      assert.equal(para!.html_body, '<div class="zd-comment"><p>Line one<br>line two &amp; &quot;more&quot;</p><p>Second paragraph</p></div>');
      assert.equal(para!.public, false);
      assert.equal(para!.author_id, agent.id);
      assert.ok(!/<script|onclick|javascript:/i.test(sanitised!.html_body), sanitised!.html_body);
      assert.ok(sanitised!.html_body.includes('<b>there</b>'), sanitised!.html_body);
      assert.ok(sanitised!.body.includes('Hi there'), sanitised!.body);
    });

    it('refuses a blank comment', async () => {
      const before = await countRows(t.db, 'ticket_comments');
      assertValidation(await put(4, { comment: { body: '  ' } }), 'comment');
      assertValidation(await put(4, { comment: { html_body: '<script>alert(1)</script>' } }), 'comment');
      assert.equal(await countRows(t.db, 'ticket_comments'), before);
    });

    it('a closed ticket cannot be updated', async () => {
      const close = await put(5, { status: 'closed' });
      assert.equal(close.statusCode, 200, close.body);
      assert.equal(close.json<TicketEnvelope>().ticket.status, 'closed');
      const beforeComments = await countRows(t.db, 'ticket_comments');
      assertValidation(await put(5, { subject: 'Reopen me' }), 'status');
      assertValidation(await put(5, { status: 'open' }), 'status');
      assertValidation(await put(5, { comment: { body: 'one more thing' } }), 'status');
      const after = await show(5);
      assert.equal(after.status, 'closed');
      assert.equal(after.subject, 'After refusals');
      assert.equal(await countRows(t.db, 'ticket_comments'), beforeComments);
    });

    it('answers 404 for unknown tickets and other accounts’ tickets, changing nothing', async () => {
      assertNotFound(await put(999, { subject: 'x' }));
      assertNotFound(await put('abc', { subject: 'x' }));
      assertNotFound(await put(0, { subject: 'x' }));
      // Ticket 3 exists in our account only; acme's admin cannot reach it.
      assertNotFound(await put(3, { subject: 'hijacked' }, { auth: acme.admin.auth, host: ACME_HOST }));
      // Our admin's credentials are not valid in acme at all.
      const foreign = await put(1, { subject: 'hijacked by us' }, { auth: t.admin.auth, host: ACME_HOST });
      assert.equal(foreign.statusCode, 401);
      assert.deepEqual(foreign.json(), UNAUTHORIZED);
      assert.equal((await show(3)).subject, 'Assigned');
      assert.equal((await show(1, ACME_HOST, acme.admin.auth)).subject, 'Acme first');
    });
  });

  describe('access', () => {
    it('answers 401 with a WWW-Authenticate header without credentials', async () => {
      const before = await countRows(t.db, 'tickets');
      const attempts: Array<[string, string, Record<string, unknown> | undefined]> = [
        ['GET', '/api/v2/tickets', undefined],
        ['GET', '/api/v2/tickets/1', undefined],
        ['GET', '/api/v2/tickets/1/comments', undefined],
        ['POST', '/api/v2/tickets', { ticket: { comment: { body: 'anonymous' } } }],
        ['PUT', '/api/v2/tickets/1', { ticket: { subject: 'anonymous' } }],
      ];
      for (const [method, url, payload] of attempts) {
        const res = await t.request({ method: method as 'GET', url, payload, auth: null });
        assert.equal(res.statusCode, 401, `${method} ${url}`);
        assert.deepEqual(res.json(), UNAUTHORIZED);
        assert.ok(res.headers['www-authenticate'], `${method} ${url} lacks WWW-Authenticate`);
      }
      assert.equal(await countRows(t.db, 'tickets'), before);
      assert.notEqual((await show(1)).subject, 'anonymous');
    });

    it('answers 403 Forbidden to end-users, changing nothing', async () => {
      const before = await countRows(t.db, 'tickets');
      const attempts: Array<[string, string, Record<string, unknown> | undefined]> = [
        ['GET', '/api/v2/tickets', undefined],
        ['GET', '/api/v2/tickets/2', undefined],
        ['GET', '/api/v2/tickets/2/comments', undefined],
        ['POST', '/api/v2/tickets', { ticket: { comment: { body: 'from a customer' } } }],
        ['PUT', '/api/v2/tickets/2', { ticket: { subject: 'customer edit' } }],
      ];
      for (const [method, url, payload] of attempts) {
        const res = await t.request({ method: method as 'GET', url, payload, auth: endUser.auth });
        assert.equal(res.statusCode, 403, `${method} ${url}: ${res.body}`);
        assert.deepEqual(res.json(), FORBIDDEN);
      }
      assert.equal(await countRows(t.db, 'tickets'), before);
      assert.equal((await show(2)).subject, 'Refund');
    });
  });
});
