/**
 * import-from against Zendesk's own shapes, from a fake Zendesk at the network edge: the incremental
 * ticket export followed by its cursor, offset pages followed by next_page, a deleted ticket and a
 * user without email reported as failed, attachments on another host (a CDN) fetched without the
 * source's credentials, and a history longer than one import request takes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';
import { eventsOf, expectStatus, pathOf } from '../helpers/api.js';
import { migrateInto } from '../helpers/migration.js';
import type { ListBody } from '../helpers/api-types.js';

const SC_ID = '8566255a-ece5-11e8-857d-493066fa7b17';
const LONG_SC_ID = '9a1b2c3d-ece5-11e8-857d-493066fa7b17';
const REPLIES = 1_202;

function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

describe(`import-from a Zendesk account (${STORE_KIND})`, () => {
  let target: TestApp;
  let zendesk: { server: http.Server; url: string };
  let cdn: { server: http.Server; url: string };
  const cdnAuth: Array<string | undefined> = [];
  const zendeskAuth = new Set<string | undefined>();
  const file = Buffer.from('%PDF-1.4 a small invoice\n');

  before(async () => {
    target = await startTestApp();
    cdn = await listen((req, res) => {
      cdnAuth.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/pdf' }).end(file);
    });
    zendesk = await listen((req, res) => {
      zendeskAuth.add(req.headers.authorization);
      const url = new URL(req.url ?? '/', zendesk.url);
      const send = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const agent = { user_id: 1001, name: 'Zed Agent', email: 'zed@acme.example' };
      const vendor = { user_id: null, name: 'Vendor', email: 'vendor@vendor.example' };
      switch (url.pathname) {
        case '/api/v2/users.json':
          if (url.searchParams.get('page') === '2') return send({ users: [{ id: 1003, name: 'No Mail', email: null, role: 'end-user' }], next_page: null, count: 3 });
          return send({
            users: [
              { id: 1001, name: 'Zed Agent', email: 'zed@acme.example', role: 'agent', active: true, suspended: false },
              { id: 1002, name: 'Carla Customer', email: 'carla@client.example', role: 'end-user' },
            ],
            next_page: `${zendesk.url}/api/v2/users.json?page=2&per_page=100`,
            count: 3,
          });
        case '/api/v2/groups.json':
          return send({ groups: [{ id: 2001, name: 'Support', deleted: false }, { id: 2002, name: 'Gone', deleted: true }], next_page: null });
        case '/api/v2/group_memberships.json':
          return send({ group_memberships: [{ id: 1, user_id: 1001, group_id: 2001, default: true }], next_page: null });
        case '/api/v2/incremental/tickets/cursor.json': {
          const ticket = (id: number, status: string) => ({
            id, subject: `Zendesk ticket ${id}`, description: `First words ${id}`, status, priority: 'high', requester_id: 1002, submitter_id: 1002, assignee_id: 1001, group_id: 2001,
            created_at: `2024-05-0${id}T10:00:00Z`, updated_at: `2024-05-0${id}T12:00:00Z`, via: { channel: 'email' },
          });
          if (url.searchParams.get('cursor') === 'next') return send({ tickets: [ticket(2, 'solved'), ticket(3, 'deleted')], after_url: null, end_of_stream: true });
          return send({ tickets: [ticket(1, 'open')], after_url: `${zendesk.url}/api/v2/incremental/tickets/cursor.json?cursor=next`, after_cursor: 'next', end_of_stream: false });
        }
      }
      const comments = /^\/api\/v2\/tickets\/(\d+)\/comments\.json$/.exec(url.pathname);
      if (comments) {
        const id = comments[1];
        return send({
          comments: [
            { id: 1, author_id: 1002, body: `First words ${id}`, html_body: `<div class="zd-comment"><p>First words ${id}</p></div>`, public: true, created_at: `2024-05-0${id}T10:00:00Z` },
            { id: 2, author_id: 1001, body: 'Looking', html_body: '<div class="zd-comment"><p>Looking</p></div>', public: false, created_at: `2024-05-0${id}T11:00:00Z` },
          ],
          next_page: null,
        });
      }
      if (url.pathname === '/api/v2/tickets/1/side_conversations.json') {
        const sc = (id: string, subject: string) => ({ id, ticket_id: 1, subject, state: 'open', participants: [agent, vendor], external_ids: { zendesk: id } });
        return send({ side_conversations: [sc(SC_ID, 'Invoice question'), sc(LONG_SC_ID, 'A long thread')], next_page: null });
      }
      if (/^\/api\/v2\/tickets\/2\/side_conversations\.json$/.test(url.pathname)) return send({ side_conversations: [], next_page: null });
      const events = /^\/api\/v2\/tickets\/1\/side_conversations\/([^/]+)\/events\.json$/.exec(url.pathname);
      if (events) {
        const create = {
          id: 'e0', type: 'create', via: 'zendesk', created_at: '2024-05-01T10:30:00.123Z', actor: agent, updates: {},
          message: { subject: 'Invoice question', body: 'Is this yours?', html_body: '<p>Is this yours?</p>', from: agent, to: [vendor], external_ids: {}, attachments: [] as unknown[] },
        };
        if (events[1] === SC_ID) {
          const reply = {
            id: 'e1', type: 'reply', via: 'email', created_at: '2024-05-01T11:30:00.456Z', actor: vendor, updates: {},
            message: { subject: null, body: 'Yes, see attached', html_body: '<p>Yes, see attached</p>', from: vendor, to: [agent], external_ids: {}, attachments: [{ id: 'a1', file_name: 'invoice.pdf', content_url: `${cdn.url}/files/invoice.pdf?token=signed` }] },
          };
          return send({ events: [create, reply], next_page: null });
        }
        // 1 create and REPLIES replies, 100 a page.
        const page = Number(url.searchParams.get('page') ?? '1');
        const all = [
          { ...create, message: { ...create.message, subject: 'A long thread' } },
          ...Array.from({ length: REPLIES }, (_, i) => ({
            id: `r${i}`, type: 'reply', via: 'email', created_at: new Date(Date.parse('2024-05-01T12:00:00Z') + i * 1000).toISOString(), actor: vendor, updates: {},
            message: { subject: null, body: `Reply ${i}`, html_body: `<p>Reply ${i}</p>`, from: vendor, to: [agent], external_ids: {}, attachments: [] },
          })),
        ];
        const slice = all.slice((page - 1) * 100, page * 100);
        return send({ events: slice, next_page: page * 100 < all.length ? `${zendesk.url}${url.pathname}?page=${page + 1}&per_page=100` : null, count: all.length });
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"InvalidEndpoint","description":"Not found"}');
    });
  });
  after(async () => {
    await target.close();
    await new Promise((r) => zendesk.server.close(r));
    await new Promise((r) => cdn.server.close(r));
  });

  it('follows the incremental cursor export and the pages, maps ids, reports what it could not bring, keeps the CDN free of credentials', async () => {
    const summary = await migrateInto(target, { url: `${zendesk.url}/api/v2`, email: 'boss@acme.example', token: 'zd-token' });
    assert.equal(summary.ticketSource, 'incremental');
    assert.equal(summary.imported.users, 2);
    assert.equal(summary.imported.tickets, 2);
    assert.equal(summary.imported.side_conversations, 2);
    assert.equal(summary.imported.events, 2 + 1 + REPLIES);
    assert.deepEqual(
      summary.failed.map((f) => [f.kind, f.id]),
      [
        ['users', '1003'],
        ['tickets', '3'],
      ],
    );
    assert.match(summary.failed[0]!.reason, /no email/);
    assert.match(summary.failed[1]!.reason, /deleted/);
    assert.deepEqual([...zendeskAuth], [`Basic ${Buffer.from('boss@acme.example/token:zd-token').toString('base64')}`]);
    assert.deepEqual(cdnAuth, [undefined], 'the attachment host never sees the source credentials');

    const users = await target.request({ method: 'GET', url: '/api/v2/users?per_page=100' });
    const byEmail = new Map(users.json<{ users: Array<{ id: number; email: string; role: string }> }>().users.map((u) => [u.email, u]));
    const zed = byEmail.get('zed@acme.example')!;
    assert.equal(zed.role, 'agent');
    const tickets = await target.request({ method: 'GET', url: '/api/v2/tickets' });
    const list = tickets.json<{ tickets: Array<{ id: number; subject: string; status: string; priority: string; assignee_id: number; requester_id: number; created_at: string; via: { channel: string } }> }>().tickets;
    assert.deepEqual(list.map((t) => [t.subject, t.status, t.priority, t.created_at, t.via.channel]), [
      ['Zendesk ticket 1', 'open', 'high', '2024-05-01T10:00:00Z', 'email'],
      ['Zendesk ticket 2', 'solved', 'high', '2024-05-02T10:00:00Z', 'email'],
    ]);
    assert.equal(list[0]!.assignee_id, zed.id);
    assert.equal(list[0]!.requester_id, byEmail.get('carla@client.example')!.id);
    const comments = await target.request({ method: 'GET', url: `/api/v2/tickets/${list[0]!.id}/comments` });
    assert.deepEqual(comments.json<{ comments: Array<{ author_id: number; public: boolean; html_body: string }> }>().comments.map((c) => [c.author_id, c.public]), [
      [byEmail.get('carla@client.example')!.id, true],
      [zed.id, false],
    ]);

    const scs = await target.request({ method: 'GET', url: `/api/v2/tickets/${list[0]!.id}/side_conversations` });
    expectStatus(scs, 200);
    const [invoice, long] = scs.json<ListBody>().side_conversations;
    assert.equal(invoice!.subject, 'Invoice question');
    assert.deepEqual(invoice!.participants.map((p) => p.user_id), [zed.id, null]);
    assert.equal(invoice!.message_added_at, '2024-05-01T11:30:00.456+00:00');
    const events = await eventsOf(target, list[0]!.id, invoice!.id);
    assert.deepEqual(events.map((e) => [e.type, e.via, e.created_at, e.actor.user_id]), [
      ['create', 'zendesk', '2024-05-01T10:30:00.123Z', zed.id],
      ['reply', 'email', '2024-05-01T11:30:00.456Z', null],
    ]);
    const attachment = events[1]!.message!.attachments[0]!;
    assert.equal(attachment.file_name, 'invoice.pdf');
    const download = await target.request({ method: 'GET', url: pathOf(attachment.content_url) });
    assert.deepEqual(download.rawPayload, file);

    // The long thread came in more than one import request, in order, nothing lost.
    const count = await target.request({ method: 'GET', url: `/api/v2/tickets/${list[0]!.id}/side_conversations/${long!.id}/events?per_page=1` });
    assert.equal(count.json<{ count: number }>().count, 1 + REPLIES);
    const lastPage = await target.request({ method: 'GET', url: `/api/v2/tickets/${list[0]!.id}/side_conversations/${long!.id}/events?per_page=100&page=13` });
    const tail = lastPage.json<{ events: Array<{ message: { body: string } }> }>().events;
    assert.equal(tail[tail.length - 1]!.message.body, `Reply ${REPLIES - 1}`);
    const longShown = await target.request({ method: 'GET', url: `/api/v2/tickets/${list[0]!.id}/side_conversations/${long!.id}` });
    assert.equal(longShown.json<{ side_conversation: { preview_text: string } }>().side_conversation.preview_text, `Reply ${REPLIES - 1}`);
  });
});
