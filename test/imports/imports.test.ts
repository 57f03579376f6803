/**
 * The import endpoints (issue 15): POST …/side_conversations/import, …/{id}/events/import,
 * /api/v2/imports/tickets and /api/v2/users/create_or_update. Happy paths keep the original times
 * and deliver nothing; error paths answer Zendesk's bodies and leave nothing behind; security paths
 * keep them for admins of the account.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countRows, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { eventsOf, expectStatus, FORBIDDEN, multipartFile, NOT_FOUND, showSc, UNAUTHORIZED, assertValidation } from '../helpers/api.js';
import { png } from '../helpers/png.js';
import type { WriteBody } from '../helpers/api-types.js';

const AGENT_TIMES = ['2025-03-04T09:00:00.000Z', '2025-03-04T10:30:00.000Z', '2025-03-04T11:00:00.000Z'];

describe(`import endpoints (${STORE_KIND})`, () => {
  let t: TestApp;
  let agent: TestUser;
  let endUser: TestUser;
  let acme: { accountId: number; admin: TestUser };

  before(async () => {
    t = await startTestApp({ webhookAllowPrivate: true });
    agent = await t.createUser('agent', 'Agent Sally');
    endUser = await t.createUser('end-user', 'Jane Customer');
    acme = await t.createAccount('acme');
    const hook = await t.request({
      method: 'POST',
      url: '/api/v2/webhooks',
      payload: {
        webhook: {
          name: 'Everything',
          endpoint: 'http://127.0.0.1:9/hook',
          http_method: 'POST',
          request_format: 'json',
          status: 'active',
          subscriptions: ['zen:event-type:side_conversation.created', 'zen:event-type:side_conversation.replied', 'zen:event-type:side_conversation.state_changed'],
        },
      },
    });
    expectStatus(hook, 201);
  });
  after(async () => t.close());

  async function newTicket(subject = 'Printer on fire'): Promise<number> {
    const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject, comment: { body: 'Help' } } } });
    expectStatus(res, 201);
    return res.json<{ ticket: { id: number } }>().ticket.id;
  }

  async function upload(bytes: Buffer, name: string, contentType: string): Promise<string> {
    const body = multipartFile(name, contentType, bytes);
    const res = await t.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', payload: body.payload, headers: body.headers });
    expectStatus(res, 201);
    return res.json<{ id: string }>().id;
  }

  function history(attachmentId?: string, externalIds: Record<string, string> = {}) {
    return {
      side_conversation: { subject: 'Printer vendor', external_ids: externalIds },
      events: [
        {
          created_at: AGENT_TIMES[0],
          type: 'create',
          actor: { user_id: agent.id },
          message: { subject: 'Printer vendor', body: 'The smoke is very colorful.', to: [{ email: 'vendor@example.net', name: 'Vendor' }], external_ids: { legacy: 'm-1' } },
        },
        {
          created_at: AGENT_TIMES[1],
          type: 'reply',
          via: 'email',
          actor: { name: 'Vendor', email: 'vendor@example.net' },
          message: { body: 'It is out now.', from: { email: 'vendor@example.net', name: 'Vendor' }, to: [{ user_id: agent.id }], ...(attachmentId ? { attachment_ids: [attachmentId] } : {}) },
        },
        { created_at: AGENT_TIMES[2], type: 'update', actor: { user_id: agent.id }, updates: { state: 'closed' } },
      ],
    };
  }

  it('imports a side conversation with its history: 201, the Create envelope, original times, nothing delivered', async () => {
    const ticketId = await newTicket();
    const pngFile = png();
    const attachmentId = await upload(pngFile, 'photo.png', 'image/png');
    const [outboxBefore, deliveriesBefore, invocationsBefore, feedBefore] = await Promise.all([
      countRows(t.db, 'outbox'),
      countRows(t.db, 'deliveries'),
      countRows(t.db, 'webhook_invocations'),
      countRows(t.db, 'event_feed'),
    ]);
    const res = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/import`, payload: history(attachmentId, { legacy_id: 'sc-1' }) });
    expectStatus(res, 201);
    const body = res.json<WriteBody>();
    assert.equal(body.event?.type, 'create');
    assert.equal(body.event?.created_at, AGENT_TIMES[0]);
    assert.deepEqual(body.updates, {});
    const sc = body.side_conversation;
    assert.equal(sc.subject, 'Printer vendor');
    assert.equal(sc.state, 'closed');
    assert.equal(sc.created_at, '2025-03-04T09:00:00.000+00:00');
    assert.equal(sc.message_added_at, '2025-03-04T10:30:00.000+00:00');
    assert.equal(sc.state_updated_at, '2025-03-04T11:00:00.000+00:00');
    assert.equal(sc.updated_at, '2025-03-04T11:00:00.000+00:00');
    assert.equal(sc.preview_text, 'It is out now.');
    assert.deepEqual(sc.external_ids, { legacy_id: 'sc-1' });
    assert.deepEqual(
      sc.participants.map((p) => [p.user_id, p.email]),
      [
        [agent.id, agent.email],
        [null, 'vendor@example.net'],
      ],
    );

    const events = await eventsOf(t, ticketId, sc.id);
    assert.deepEqual(events.map((e) => [e.type, e.via, e.created_at]), [
      ['create', 'api', AGENT_TIMES[0]],
      ['reply', 'email', AGENT_TIMES[1]],
      ['update', 'api', AGENT_TIMES[2]],
    ]);
    assert.equal(events[0]!.message?.body, 'The smoke is very colorful.');
    assert.deepEqual(events[0]!.message?.external_ids, { legacy: 'm-1' });
    assert.deepEqual(events[0]!.message?.deliveries, []);
    assert.equal(events[1]!.actor.email, 'vendor@example.net');
    assert.deepEqual(events[2]!.updates, { state: 'closed' });
    const attachment = events[1]!.message!.attachments[0]!;
    assert.equal(attachment.file_name, 'photo.png');
    const download = await t.request({ method: 'GET', url: new URL(attachment.content_url).pathname });
    expectStatus(download, 200);
    assert.deepEqual(download.rawPayload, pngFile);

    // Nothing delivered: no outbox row, no delivery row, no webhook invocation; the feed has its rows.
    assert.equal(await countRows(t.db, 'outbox'), outboxBefore);
    assert.equal(await countRows(t.db, 'deliveries'), deliveriesBefore);
    assert.equal(await countRows(t.db, 'webhook_invocations'), invocationsBefore);
    assert.equal(await countRows(t.db, 'event_feed'), feedBefore + 3);
    // The live road still queues webhooks (the import's marker does not outlive its transaction).
    const live = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/${sc.id}/reply`, payload: { message: { body: 'Live again' } } });
    expectStatus(live, 200);
    assert.ok((await countRows(t.db, 'webhook_invocations')) > invocationsBefore);
  });

  it('refuses a second import with the same external_ids (409) and keeps one copy', async () => {
    const ticketId = await newTicket();
    const first = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/import`, payload: history(undefined, { legacy_id: 'sc-dup' }) });
    expectStatus(first, 201);
    const again = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/import`, payload: history(undefined, { legacy_id: 'sc-dup' }) });
    expectStatus(again, 409);
    assert.equal(again.json<{ error: string }>().error, 'Conflict');
    const elsewhere = await t.request({ method: 'POST', url: `/api/v2/tickets/${await newTicket()}/side_conversations/import`, payload: history(undefined, { legacy_id: 'sc-dup' }) });
    expectStatus(elsewhere, 409);
    const list = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations` });
    assert.equal(list.json<{ count: number }>().count, 1);
  });

  it('refuses events out of time order, in the future, a first event that is no create, unknown users and attachments (422), writing nothing', async () => {
    const ticketId = await newTicket();
    const url = `/api/v2/tickets/${ticketId}/side_conversations/import`;
    const before = await countRows(t.db, 'side_conversation_events');
    const base = history();
    const swapped = { ...base, events: [base.events[0], { ...base.events[1], created_at: '2025-03-04T08:00:00Z' }] };
    assertValidation(await t.request({ method: 'POST', url, payload: swapped }), 'events[1].created_at');
    const future = { ...base, events: [{ ...base.events[0], created_at: new Date(Date.now() + 24 * 3600_000).toISOString() }] };
    assertValidation(await t.request({ method: 'POST', url, payload: future }), 'events[0].created_at');
    assertValidation(await t.request({ method: 'POST', url, payload: { ...base, events: [{ ...base.events[0], created_at: 'yesterday' }] } }), 'events[0].created_at');
    assertValidation(await t.request({ method: 'POST', url, payload: { ...base, events: [base.events[1]] } }), 'events[0].type');
    assertValidation(await t.request({ method: 'POST', url, payload: { ...base, events: [base.events[0], { ...base.events[0], created_at: AGENT_TIMES[1] }] } }), 'events[1].type');
    assertValidation(await t.request({ method: 'POST', url, payload: { ...base, events: [{ ...base.events[0], actor: { user_id: 999999 } }] } }), 'events[0].actor.user_id');
    assertValidation(await t.request({ method: 'POST', url, payload: { ...base, events: [{ ...base.events[0], message: { body: '  ' } }] } }), 'events[0].message.body');
    assertValidation(
      await t.request({ method: 'POST', url, payload: { ...base, events: [{ ...base.events[0], message: { body: 'x', attachment_ids: ['00000000-0000-4000-8000-000000000000'] } }] } }),
      'events[0].message.attachment_ids',
    );
    assertValidation(
      await t.request({ method: 'POST', url, payload: { side_conversation: { external_ids: { targetTicketId: '987654' } }, events: [base.events[0]] } }),
      'side_conversation.external_ids.targetTicketId',
    );
    const noEvents = await t.request({ method: 'POST', url, payload: { side_conversation: {}, events: [] } });
    expectStatus(noEvents, 422);
    const badJson = await t.request({ method: 'POST', url, payload: '{"side_conversation":', headers: { 'content-type': 'application/json' } });
    expectStatus(badJson, 400);
    assert.equal(await countRows(t.db, 'side_conversation_events'), before);
  });

  it('imports events into an existing conversation after its last one; refuses earlier ones (422) and repeated message external_ids (409)', async () => {
    const ticketId = await newTicket();
    const created = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/import`, payload: history() });
    expectStatus(created, 201);
    const sc = created.json<WriteBody>().side_conversation;
    const url = `/api/v2/tickets/${ticketId}/side_conversations/${sc.id}/events/import`;
    const more = {
      events: [
        { created_at: '2025-03-05T08:00:00Z', type: 'reply', via: 'email', actor: { email: 'vendor@example.net', name: 'Vendor' }, message: { body: 'It started again.', from: { email: 'vendor@example.net' }, to: [{ email: 'boss@example.net' }], external_ids: { legacy: 'm-9' } } },
        { created_at: '2025-03-05T08:00:00Z', type: 'update', actor: { user_id: agent.id }, updates: { state: 'open' } },
      ],
    };
    const res = await t.request({ method: 'POST', url, payload: more });
    expectStatus(res, 201);
    const body = res.json<WriteBody>();
    assert.equal(body.event?.type, 'update');
    assert.deepEqual(body.updates, { state: 'open' });
    assert.equal(body.side_conversation.state, 'open');
    assert.equal(body.side_conversation.message_added_at, '2025-03-05T08:00:00.000+00:00');
    assert.equal(body.side_conversation.state_updated_at, '2025-03-05T08:00:00.000+00:00');
    assert.equal(body.side_conversation.preview_text, 'It started again.');
    assert.ok(body.side_conversation.participants.some((p) => p.email === 'boss@example.net'), 'a new email recipient becomes a participant');
    assert.equal((await eventsOf(t, ticketId, sc.id)).length, 5);

    assertValidation(await t.request({ method: 'POST', url, payload: { events: [{ ...more.events[1], created_at: '2025-03-04T12:00:00Z' }] } }), 'events[0].created_at');
    assertValidation(await t.request({ method: 'POST', url, payload: { events: [{ ...more.events[0], type: 'create', created_at: '2025-03-06T08:00:00Z' }] } }), 'events[0].type');
    const slackReply = { events: [{ created_at: '2025-03-06T08:00:00Z', message: { body: 'x', to: [{ slack_workspace_id: 'T1', slack_channel_id: 'C1' }] } }] };
    assertValidation(await t.request({ method: 'POST', url, payload: slackReply }), 'events[0].message.to');
    const repeated = await t.request({ method: 'POST', url, payload: { events: [{ ...more.events[0], created_at: '2025-03-06T08:00:00Z' }] } });
    expectStatus(repeated, 409);
    assert.equal((await eventsOf(t, ticketId, sc.id)).length, 5);
    const unknown = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/00000000-0000-4000-8000-000000000000/events/import`, payload: more });
    expectStatus(unknown, 404);
    assert.deepEqual(unknown.json(), NOT_FOUND);
  });

  it('recognises repeated message external_ids whatever the order and length of their keys (409)', async () => {
    const ticketId = await newTicket();
    const created = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/import`, payload: history() });
    expectStatus(created, 201);
    const url = `/api/v2/tickets/${ticketId}/side_conversations/${created.json<WriteBody>().side_conversation.id}/events/import`;
    const event = (ids: Record<string, string>, at: string) => ({ events: [{ created_at: at, message: { body: 'Again', external_ids: ids } }] });
    expectStatus(await t.request({ method: 'POST', url, payload: event({ a_rather_long_key: '1', b: '2' }, '2025-03-05T08:00:00Z') }), 201);
    expectStatus(await t.request({ method: 'POST', url, payload: event({ b: '2', a_rather_long_key: '1' }, '2025-03-05T09:00:00Z') }), 409);
    const twice = { events: [event({ k: 'same' }, '2025-03-05T10:00:00Z').events[0], event({ k: 'same' }, '2025-03-05T11:00:00Z').events[0]] };
    expectStatus(await t.request({ method: 'POST', url, payload: twice }), 409);
    expectStatus(await t.request({ method: 'POST', url, payload: event({ b: '2', a_rather_long_key: '3' }, '2025-03-05T12:00:00Z') }), 201);
  });

  it('imports a child-ticket conversation (linking the child ticket) and a Slack one, keeping their participants', async () => {
    const parent = await newTicket('Parent');
    const child = await newTicket('Child');
    const group = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: 'Tier 2' } } });
    expectStatus(group, 201);
    const groupId = group.json<{ group: { id: number } }>().group.id;
    const res = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${parent}/side_conversations/import`,
      payload: {
        side_conversation: { external_ids: { targetTicketId: String(child) } },
        events: [{ created_at: AGENT_TIMES[0], actor: { user_id: agent.id }, message: { subject: 'Look at this', body: 'Please check', to: [{ support_group_id: groupId }] } }],
      },
    });
    expectStatus(res, 201);
    const sc = res.json<WriteBody>().side_conversation;
    assert.deepEqual(sc.external_ids, { targetTicketId: String(child) });
    assert.equal(sc.participants[1]!.support_group_id, groupId);
    const row = await t.db.selectFrom('tickets').select('parent_side_conversation_id').where('account_id', '=', t.accountId).where('id', '=', child).executeTakeFirstOrThrow();
    assert.equal(row.parent_side_conversation_id, sc.id);

    const slack = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${parent}/side_conversations/import`,
      payload: {
        side_conversation: { participants: [{ user_id: agent.id }, { slack_workspace_id: 'T0001', slack_channel_id: 'C0001', name: '#vendors' }] },
        events: [
          { created_at: AGENT_TIMES[0], actor: { user_id: agent.id }, message: { body: 'Anyone?', to: [{ slack_workspace_id: 'T0001', slack_channel_id: 'C0001' }] } },
          { created_at: AGENT_TIMES[1], via: 'slack', actor: { name: 'Vendor Bob' }, message: { body: 'Here', from: { name: 'Vendor Bob' } } },
        ],
      },
    });
    expectStatus(slack, 201);
    const slackSc = await showSc(t, parent, slack.json<WriteBody>().side_conversation.id);
    assert.equal(slackSc.participants[1]!.slack_channel_id, 'C0001');
    assert.equal(slackSc.participants[1]!.name, '#vendors');
    const mixed = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${parent}/side_conversations/import`,
      payload: { side_conversation: {}, events: [{ created_at: AGENT_TIMES[0], message: { body: 'x', to: [{ slack_workspace_id: 'T1', slack_channel_id: 'C1' }, { support_group_id: groupId }] } }] },
    });
    assertValidation(mixed, 'side_conversation.participants');
  });

  it('is for admins of the account: 401 without credentials, 403 for agents and end-users, 404 for another account’s ticket', async () => {
    const ticketId = await newTicket();
    const url = `/api/v2/tickets/${ticketId}/side_conversations/import`;
    const none = await t.request({ method: 'POST', url, payload: history(), auth: null });
    expectStatus(none, 401);
    assert.deepEqual(none.json(), UNAUTHORIZED);
    for (const who of [agent, endUser]) {
      for (const path of [url, '/api/v2/imports/tickets', '/api/v2/users/create_or_update']) {
        const res = await t.request({ method: 'POST', url: path, payload: {}, auth: who.auth });
        expectStatus(res, 403);
        assert.deepEqual(res.json(), FORBIDDEN);
      }
    }
    const foreign = await t.request({ method: 'POST', url, payload: history(), auth: acme.admin.auth, headers: { host: 'acme.localhost' } });
    expectStatus(foreign, 404);
    // An upload of another account cannot be bound by an import here.
    const body = multipartFile('a.txt', 'text/plain', Buffer.from('acme secret'));
    const acmeUpload = await t.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', payload: body.payload, headers: { ...body.headers, host: 'acme.localhost' }, auth: acme.admin.auth });
    expectStatus(acmeUpload, 201);
    const stolen = history(acmeUpload.json<{ id: string }>().id);
    assertValidation(await t.request({ method: 'POST', url, payload: stolen }), 'events[1].message.attachment_ids');
  });

  it('imports a ticket with its comments, authors and times (201), and refuses bad ones (422)', async () => {
    const res = await t.request({
      method: 'POST',
      url: '/api/v2/imports/tickets',
      payload: {
        ticket: {
          subject: 'Old printer ticket',
          requester_id: endUser.id,
          assignee_id: agent.id,
          created_at: '2024-01-02T03:04:05Z',
          updated_at: '2024-01-03T00:00:00Z',
          solved_at: '2024-01-03T00:00:00Z',
          comments: [
            { author_id: endUser.id, value: 'It is on fire', created_at: '2024-01-02T03:04:05Z' },
            { author_id: agent.id, html_body: '<p>Put it <b>out</b></p>', public: false, created_at: '2024-01-02T05:00:00Z' },
          ],
        },
      },
    });
    expectStatus(res, 201);
    const ticket = res.json<{ ticket: { id: number; status: string; created_at: string; updated_at: string; requester_id: number; description: string } }>().ticket;
    assert.equal(ticket.status, 'solved');
    assert.equal(ticket.created_at, '2024-01-02T03:04:05Z');
    assert.equal(ticket.updated_at, '2024-01-03T00:00:00Z');
    assert.equal(ticket.requester_id, endUser.id);
    assert.equal(ticket.description, 'It is on fire');
    const comments = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticket.id}/comments` });
    const list = comments.json<{ comments: Array<{ author_id: number; body: string; public: boolean; created_at: string }> }>().comments;
    assert.deepEqual(list.map((c) => [c.author_id, c.body, c.public, c.created_at]), [
      [endUser.id, 'It is on fire', true, '2024-01-02T03:04:05Z'],
      [agent.id, 'Put it out', false, '2024-01-02T05:00:00Z'],
    ]);
    const solved = await t.db.selectFrom('tickets').select('solved_at').where('account_id', '=', t.accountId).where('id', '=', ticket.id).executeTakeFirstOrThrow();
    assert.equal(solved.solved_at?.toISOString(), '2024-01-03T00:00:00.000Z');

    const bad = (ticket: Record<string, unknown>) => t.request({ method: 'POST', url: '/api/v2/imports/tickets', payload: { ticket } });
    assertValidation(await bad({ comments: [{ value: 'x', author_id: 999999 }] }), 'comments[0].author_id');
    assertValidation(await bad({ comments: [{ value: 'x', created_at: new Date(Date.now() + 86_400_000).toISOString() }] }), 'comments[0].created_at');
    assertValidation(await bad({ comments: [{ value: 'x', created_at: '2024-01-02T00:00:00Z' }, { value: 'y', created_at: '2024-01-01T00:00:00Z' }] }), 'comments[1].created_at');
    assertValidation(await bad({ comments: [{ value: '   ' }] }), 'comments[0].body');
    assertValidation(await bad({ assignee_id: endUser.id, comments: [{ value: 'x' }] }), 'assignee_id');
    assertValidation(await bad({ comments: [] }), 'ticket.comments');
  });

  it('create_or_update: 201 with a new user, 200 updating the one with that email (any case), 422 without a name for a new one', async () => {
    const made = await t.request({ method: 'POST', url: '/api/v2/users/create_or_update', payload: { user: { email: 'New.Person@example.org', name: 'New Person', role: 'agent' } } });
    expectStatus(made, 201);
    const user = made.json<{ user: { id: number; role: string; name: string } }>().user;
    assert.equal(user.role, 'agent');
    const updated = await t.request({ method: 'POST', url: '/api/v2/users/create_or_update.json', payload: { user: { email: 'new.person@EXAMPLE.org', name: 'Renamed Person' } } });
    expectStatus(updated, 200);
    assert.equal(updated.json<{ user: { id: number; name: string; role: string } }>().user.id, user.id);
    assert.equal(updated.json<{ user: { name: string } }>().user.name, 'Renamed Person');
    assert.equal(updated.json<{ user: { role: string } }>().user.role, 'agent');
    assertValidation(await t.request({ method: 'POST', url: '/api/v2/users/create_or_update', payload: { user: { email: 'nobody@example.org' } } }), 'name');
    assertValidation(await t.request({ method: 'POST', url: '/api/v2/users/create_or_update', payload: { user: { email: 'not an email', name: 'X' } } }), 'email');
  });
});
