/**
 * Replies and events of side conversations: POST …/reply, GET …/events, ?include=events, the HTML
 * and preview text of messages, the outbox rows replies queue, and what a refused reply leaves
 * behind (nothing). See API-NOTES.md (Reply, Events, Errors).
 *
 * One store per file; every test makes its own ticket so the tests do not lean on each other.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/types.js';
import { ADMIN_EMAIL, countRows, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { eventsOf, expectStatus, showSc } from '../helpers/api.js';
import type { EventListBody, ListBody, ScEvent, ShowBody, ValidationErrorBody, WriteBody } from '../helpers/api-types.js';

// ---------------------------------------------------------------------------------------------
// Response shapes (only what the tests read; the shared ones in helpers/api-types.ts)
// ---------------------------------------------------------------------------------------------

interface TicketEnvelope {
  ticket: { id: number };
}

interface GroupEnvelope {
  group: { id: number };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function later(after: string, before: string, what: string): void {
  assert.ok(Date.parse(after) > Date.parse(before), `${what} should move forward: ${before} → ${after}`);
}

/**
 * Slack and Teams side conversations need a connected workspace / bot. The rows are written
 * directly (their secrets are never read here: nothing is delivered in these tests), and only
 * when the store has those tables.
 */
async function connectSlackAndTeams(db: Kysely<Database>, accountId: number, slackTeamId: string): Promise<void> {
  const has = async (table: string) =>
    (await sql<{ present: boolean }>`select to_regclass(${table}) is not null as present`.execute(db)).rows[0]?.present === true;
  if (await has('public.slack_workspaces')) {
    await sql`insert into slack_workspaces (account_id, team_id, name, bot_token_enc, signing_secret_enc)
              values (${accountId}, ${slackTeamId}, 'Test workspace', 'unused', 'unused')`.execute(db);
  }
  if (await has('public.teams_bots')) {
    await sql`insert into teams_bots (account_id, app_id, app_password_enc, tenant_id, service_url)
              values (${accountId}, 'test-app', 'unused', 'test-tenant', 'https://teams.invalid')`.execute(db);
  }
}

describe(`replies and events (${STORE_KIND})`, () => {
  let t: TestApp;
  let agent: TestUser;
  let endUser: TestUser;
  let acme: { accountId: number; admin: TestUser };
  const acmeHost = 'acme.localhost';

  before(async () => {
    t = await startTestApp();
    // Accounts are created before the first request: the app caches the account list briefly.
    acme = await t.createAccount('acme');
    await connectSlackAndTeams(t.db, t.accountId, 'T123ABC');
    agent = await t.createUser('agent', 'Agent Smith');
    endUser = await t.createUser('end-user', 'Eve User');
  });
  after(async () => t.close());

  async function newTicket(subject = 'Printer on fire'): Promise<number> {
    const res = await t.request({ method: 'POST', url: '/api/v2/tickets.json', payload: { ticket: { subject, comment: { body: 'It burns' } } } });
    expectStatus(res, 201);
    return res.json<TicketEnvelope>().ticket.id;
  }

  async function createSc(ticketId: number, to: Array<Record<string, unknown>> = [{ email: 'vendor@example.com', name: 'Vendor' }], body = 'Hello there'): Promise<WriteBody> {
    const res = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Parts', body, to } },
    });
    expectStatus(res, 201);
    return res.json<WriteBody>();
  }

  function reply(ticketId: number, scId: string, message: Record<string, unknown>, auth?: string | null): Promise<LightMyRequestResponse> {
    return t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/reply`,
      payload: { message },
      ...(auth !== undefined ? { auth } : {}),
    });
  }

  async function counts(): Promise<Record<string, number>> {
    return {
      side_conversations: await countRows(t.db, 'side_conversations'),
      side_conversation_events: await countRows(t.db, 'side_conversation_events'),
      side_conversation_participants: await countRows(t.db, 'side_conversation_participants'),
      outbox: await countRows(t.db, 'outbox'),
      ticket_comments: await countRows(t.db, 'ticket_comments'),
    };
  }

  async function outboxRowsOf(eventId: string) {
    return t.db.selectFrom('outbox').select(['event_id', 'channel', 'side_conversation_id']).where('event_id', '=', eventId).execute();
  }

  // -------------------------------------------------------------------------------------------
  // Reply
  // -------------------------------------------------------------------------------------------

  it('a reply answers 200 with the reply event, the moved side conversation and empty updates', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const before = await showSc(t, ticketId, scId);
    assert.equal(before.preview_text, 'Hello there');

    const res = await reply(ticketId, scId, { body: 'Is it still burning?' }, agent.auth);
    expectStatus(res, 200);
    const out = res.json<WriteBody>();
    assert.deepEqual(Object.keys(out).sort(), ['event', 'side_conversation', 'updates']);
    assert.deepEqual(out.updates, {});

    const event = out.event;
    assert.ok(event);
    assert.match(event.id, UUID);
    assert.equal(event.type, 'reply');
    assert.equal(event.via, 'api');
    assert.equal(event.side_conversation_id, scId);
    assert.equal(event.ticket_id, ticketId);
    assert.deepEqual(event.actor, { user_id: agent.id, name: 'Agent Smith', email: agent.email });
    assert.deepEqual(event.updates, {});
    assert.ok(event.message);
    assert.equal(event.message.subject, null);
    assert.equal(event.message.body, 'Is it still burning?');
    assert.equal(event.message.preview_text, 'Is it still burning?');
    assert.equal(event.message.html_body, '<div class="zd-comment"><p>Is it still burning?</p></div>');
    assert.deepEqual(event.message.from, { user_id: agent.id, name: 'Agent Smith', email: agent.email });
    // By default a reply goes to everyone in the conversation but its sender: here the admin who
    // opened it and the vendor.
    const toEmails = event.message.to.map((p) => p.email).sort();
    assert.deepEqual(toEmails, [ADMIN_EMAIL, 'vendor@example.com'].sort());
    assert.deepEqual(event.message.attachments, []);
    assert.deepEqual(event.message.external_ids, {});

    const sc = out.side_conversation;
    assert.equal(sc.id, scId);
    assert.equal(sc.state, 'open');
    assert.equal(sc.preview_text, 'Is it still burning?');
    later(sc.message_added_at, before.message_added_at, 'message_added_at');
    later(sc.updated_at, before.updated_at, 'updated_at');
    assert.equal(sc.state_updated_at, before.state_updated_at, 'state_updated_at does not move on an open conversation');
    assert.equal(sc.created_at, before.created_at);

    // The stored conversation agrees with the envelope.
    const again = await showSc(t, ticketId, scId);
    assert.equal(again.preview_text, 'Is it still burning?');
    assert.equal(again.message_added_at, sc.message_added_at);
  });

  it('a reply by the admin who opened the conversation goes to the other participants only', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId, [{ email: 'one@example.com' }, { email: 'two@example.com' }]);
    const res = await reply(ticketId, created.side_conversation.id, { body: 'To both of you' });
    expectStatus(res, 200);
    const event = res.json<WriteBody>().event;
    assert.ok(event?.message);
    assert.deepEqual(event.message.from, { user_id: t.admin.id, name: 'Administrator', email: ADMIN_EMAIL });
    assert.deepEqual(event.message.to.map((p) => p.email), ['one@example.com', 'two@example.com']);
  });

  it('a reply keeps message external_ids', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const res = await reply(ticketId, created.side_conversation.id, { body: 'With ids', external_ids: { crm: 'C-42' } });
    expectStatus(res, 200);
    assert.deepEqual(res.json<WriteBody>().event?.message?.external_ids, { crm: 'C-42' });
  });

  it('a reply to a closed side conversation reopens it (updates {state:"open"})', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const closed = await t.request({
      method: 'PUT',
      url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}`,
      payload: { side_conversation: { state: 'closed' } },
    });
    expectStatus(closed, 200);
    const closedSc = closed.json<WriteBody>().side_conversation;
    assert.equal(closedSc.state, 'closed');

    const res = await reply(ticketId, scId, { body: 'Back again' });
    expectStatus(res, 200);
    const out = res.json<WriteBody>();
    assert.deepEqual(out.updates, { state: 'open' });
    assert.equal(out.side_conversation.state, 'open');
    later(out.side_conversation.state_updated_at, closedSc.state_updated_at, 'state_updated_at');
    later(out.side_conversation.message_added_at, closedSc.message_added_at, 'message_added_at');
    assert.equal(out.event?.type, 'reply');
    assert.equal((await showSc(t, ticketId, scId)).state, 'open');

    // A second reply, now to an open conversation, changes no state.
    const second = await reply(ticketId, scId, { body: 'Still here' });
    expectStatus(second, 200);
    assert.deepEqual(second.json<WriteBody>().updates, {});
    assert.equal(second.json<WriteBody>().side_conversation.state_updated_at, out.side_conversation.state_updated_at);
  });

  it('`to` with a new email adds that participant and addresses the reply to it', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    assert.deepEqual(created.side_conversation.participants.map((p) => p.email), [ADMIN_EMAIL, 'vendor@example.com']);

    const res = await reply(ticketId, scId, { body: 'Looping in the supplier', to: [{ email: 'supplier@example.com', name: 'Supplier' }] });
    expectStatus(res, 200);
    const out = res.json<WriteBody>();
    assert.deepEqual(out.event?.message?.to, [{ user_id: null, name: 'Supplier', email: 'supplier@example.com' }]);
    const emails = out.side_conversation.participants.map((p) => p.email);
    assert.deepEqual(emails, [ADMIN_EMAIL, 'vendor@example.com', 'supplier@example.com']);
    assert.deepEqual((await showSc(t, ticketId, scId)).participants.map((p) => p.email), emails);

    // Naming an existing participant adds nobody.
    const again = await reply(ticketId, scId, { body: 'Just the vendor', to: [{ email: 'VENDOR@example.com' }] });
    expectStatus(again, 200);
    assert.equal(again.json<WriteBody>().side_conversation.participants.length, 3);
  });

  it('`to` of another type on an email conversation is a 422 and writes nothing', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const before = await counts();
    const res = await reply(ticketId, scId, { body: 'Via Slack?', to: [{ slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' }] });
    expectStatus(res, 422);
    const body = res.json<ValidationErrorBody>();
    assert.equal(body.error, 'RecordInvalid');
    assert.ok(body.details['message.to'], res.body);
    assert.deepEqual(await counts(), before);
    const sc = await showSc(t, ticketId, scId);
    assert.equal(sc.preview_text, 'Hello there');
    assert.equal(sc.participants.length, 2);
  });

  it('`to` on a Slack conversation is a 422; a reply without `to` goes to its channel', async () => {
    const ticketId = await newTicket();
    const slack = { slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' };
    const created = await createSc(ticketId, [slack]);
    const scId = created.side_conversation.id;
    const before = await counts();
    const refused = await reply(ticketId, scId, { body: 'Other channel', to: [{ slack_workspace_id: 'T123ABC', slack_channel_id: 'C999XYZ' }] });
    expectStatus(refused, 422);
    assert.equal(refused.json<ValidationErrorBody>().error, 'RecordInvalid');
    assert.ok(refused.json<ValidationErrorBody>().details['message.to'], refused.body);
    const emailOnSlack = await reply(ticketId, scId, { body: 'By mail', to: [{ email: 'x@example.com' }] });
    expectStatus(emailOnSlack, 422);
    assert.equal(emailOnSlack.json<ValidationErrorBody>().error, 'RecordInvalid');
    assert.deepEqual(await counts(), before);

    const ok = await reply(ticketId, scId, { body: 'In the channel' });
    expectStatus(ok, 200);
    assert.deepEqual(ok.json<WriteBody>().event?.message?.to, [{ user_id: null, name: null, email: null, ...slack }]);
  });

  // -------------------------------------------------------------------------------------------
  // Outbox
  // -------------------------------------------------------------------------------------------

  it('a reply on an email, Slack or Teams conversation queues one outbox row for its event', async () => {
    const cases: Array<{ channel: string; to: Array<Record<string, unknown>> }> = [
      { channel: 'email', to: [{ email: 'vendor@example.com' }] },
      { channel: 'slack', to: [{ slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' }] },
      { channel: 'msteams', to: [{ msteams_channel_id: '19:abc@thread.tacv2' }] },
    ];
    for (const { channel, to } of cases) {
      const ticketId = await newTicket();
      const created = await createSc(ticketId, to);
      const scId = created.side_conversation.id;
      const outboxBefore = await countRows(t.db, 'outbox');
      const res = await reply(ticketId, scId, { body: `Reply on ${channel}` });
      expectStatus(res, 200);
      const eventId = res.json<WriteBody>().event?.id;
      assert.ok(eventId);
      assert.equal(await countRows(t.db, 'outbox'), outboxBefore + 1, channel);
      const rows = await outboxRowsOf(eventId);
      assert.equal(rows.length, 1, channel);
      assert.equal(rows[0]!.channel, channel);
      assert.equal(rows[0]!.side_conversation_id, scId);
    }
  });

  it('a reply on a child-ticket conversation queues no outbox row', async () => {
    const group = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: `Tier 2 ${randomUUID().slice(0, 6)}` } } });
    expectStatus(group, 201);
    const groupId = group.json<GroupEnvelope>().group.id;
    const ticketId = await newTicket();
    const created = await createSc(ticketId, [{ support_group_id: groupId }]);
    const scId = created.side_conversation.id;
    assert.ok(created.side_conversation.external_ids['targetTicketId']);
    const outboxBefore = await countRows(t.db, 'outbox');
    const res = await reply(ticketId, scId, { body: 'To the child' });
    expectStatus(res, 200);
    const eventId = res.json<WriteBody>().event?.id;
    assert.ok(eventId);
    assert.equal((await outboxRowsOf(eventId)).length, 0);
    assert.equal(await countRows(t.db, 'outbox'), outboxBefore);
  });

  // -------------------------------------------------------------------------------------------
  // Events
  // -------------------------------------------------------------------------------------------

  it('GET …/events lists create, replies and update oldest first, each with its full shape', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    expectStatus(await reply(ticketId, scId, { body: 'First reply' }, agent.auth), 200);
    expectStatus(await reply(ticketId, scId, { body: 'Second reply' }), 200);
    const closed = await t.request({
      method: 'PUT',
      url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}.json`,
      payload: { side_conversation: { state: 'closed' } },
    });
    expectStatus(closed, 200);

    const res = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/events.json` });
    expectStatus(res, 200);
    const list = res.json<EventListBody>();
    assert.equal(list.count, 4);
    assert.equal(list.next_page, null);
    assert.equal(list.previous_page, null);
    assert.deepEqual(list.events.map((e) => e.type), ['create', 'reply', 'reply', 'update']);
    assert.deepEqual(list.events.map((e) => e.via), ['api', 'api', 'api', 'api']);
    assert.deepEqual(list.events.map((e) => e.message?.body ?? null), ['Hello there', 'First reply', 'Second reply', null]);
    assert.equal(list.events[0]!.id, created.event?.id);

    for (const e of list.events) {
      for (const key of ['actor', 'created_at', 'id', 'message', 'side_conversation_id', 'ticket_id', 'type', 'updates', 'via']) {
        assert.ok(key in e, `event.${key}`);
      }
      assert.match(e.id, UUID);
      assert.equal(e.side_conversation_id, scId);
      assert.equal(e.ticket_id, ticketId);
      assert.deepEqual(Object.keys(e.actor).sort(), ['email', 'name', 'user_id']);
      assert.ok(!Number.isNaN(Date.parse(e.created_at)), e.created_at);
    }
    const times = list.events.map((e) => Date.parse(e.created_at));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'oldest first');
    assert.equal(new Set(list.events.map((e) => e.id)).size, 4);

    const [create, first, second, update] = list.events as [ScEvent, ScEvent, ScEvent, ScEvent];
    assert.deepEqual(create.actor, { user_id: t.admin.id, name: 'Administrator', email: ADMIN_EMAIL });
    assert.deepEqual(first.actor, { user_id: agent.id, name: 'Agent Smith', email: agent.email });
    assert.equal(create.message?.subject, 'Parts');
    assert.equal(first.message?.subject, null);
    assert.equal(second.message?.subject, null);
    assert.deepEqual(create.updates, {});
    assert.deepEqual(first.updates, {});
    assert.deepEqual(second.updates, {});
    assert.equal(update.message, null);
    assert.deepEqual(update.updates, { state: 'closed' });
    assert.deepEqual(update.actor, { user_id: t.admin.id, name: 'Administrator', email: ADMIN_EMAIL });
    for (const e of [create, first, second]) {
      assert.ok(e.message);
      // The reference's message fields (the envelope may carry more, such as delivery status).
      for (const key of ['attachments', 'body', 'external_ids', 'from', 'html_body', 'preview_text', 'subject', 'to']) {
        assert.ok(key in e.message, `message.${key} on a ${e.type} event`);
      }
    }
  });

  it('GET …/events paginates with per_page, absolute next_page links and the total count', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    expectStatus(await reply(ticketId, scId, { body: 'r1' }), 200);
    expectStatus(await reply(ticketId, scId, { body: 'r2' }), 200);
    expectStatus(
      await t.request({
        method: 'PUT',
        url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}`,
        payload: { side_conversation: { state: 'closed' } },
      }),
      200,
    );
    const all = await eventsOf(t, ticketId, scId);
    assert.equal(all.length, 4);

    const page1 = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/events?per_page=2` });
    expectStatus(page1, 200);
    const p1 = page1.json<EventListBody>();
    assert.equal(p1.count, 4);
    assert.equal(p1.events.length, 2);
    assert.equal(p1.previous_page, null);
    assert.ok(p1.next_page, 'a next page');
    const next = new URL(p1.next_page);
    assert.match(next.protocol, /^https?:$/);
    assert.ok(next.host.length > 0, 'absolute URL');
    assert.match(next.pathname, new RegExp(`^/api/v2/tickets/${ticketId}/side_conversations/${scId}/events(\\.json)?$`));
    assert.equal(next.searchParams.get('page'), '2');
    assert.equal(next.searchParams.get('per_page'), '2');
    assert.deepEqual(p1.events.map((e) => e.id), all.slice(0, 2).map((e) => e.id));

    const page2 = await t.request({ method: 'GET', url: `${next.pathname}${next.search}` });
    expectStatus(page2, 200);
    const p2 = page2.json<EventListBody>();
    assert.equal(p2.count, 4);
    assert.equal(p2.next_page, null);
    assert.ok(p2.previous_page);
    assert.equal(new URL(p2.previous_page).searchParams.get('page'), '1');
    assert.deepEqual(p2.events.map((e) => e.id), all.slice(2).map((e) => e.id));
    assert.deepEqual(p2.events.map((e) => e.type), ['reply', 'update']);
  });

  it('GET …/events is a 404 RecordNotFound for unknown tickets and conversations, another ticket and another account', async () => {
    const ticketId = await newTicket();
    const otherTicketId = await newTicket('Another ticket');
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    // Make sure the other account has a ticket with the same number, so only the account differs.
    let acmeTicketId = 0;
    while (acmeTicketId < ticketId) {
      const res = await t.request({
        method: 'POST',
        url: '/api/v2/tickets',
        payload: { ticket: { subject: 'Acme', comment: { body: 'x' } } },
        headers: { host: acmeHost },
        auth: acme.admin.auth,
      });
      expectStatus(res, 201);
      acmeTicketId = res.json<TicketEnvelope>().ticket.id;
    }
    assert.equal(acmeTicketId, ticketId);

    const cases: Array<{ url: string; headers?: Record<string, string>; auth?: string }> = [
      { url: `/api/v2/tickets/999999/side_conversations/${scId}/events` },
      { url: `/api/v2/tickets/${ticketId}/side_conversations/${randomUUID()}/events` },
      { url: `/api/v2/tickets/${ticketId}/side_conversations/not-a-uuid/events` },
      { url: `/api/v2/tickets/${otherTicketId}/side_conversations/${scId}/events` },
      { url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/events`, headers: { host: acmeHost }, auth: acme.admin.auth },
    ];
    for (const c of cases) {
      const res = await t.request({ method: 'GET', url: c.url, ...(c.headers ? { headers: c.headers } : {}), ...(c.auth ? { auth: c.auth } : {}) });
      expectStatus(res, 404);
      assert.deepEqual(res.json(), { error: 'RecordNotFound', description: 'Not found' }, c.url);
    }
    // And the right path still works.
    assert.equal((await eventsOf(t, ticketId, scId)).length, 1);
  });

  it('?include=events on Show and List sideloads the same events as GET …/events', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    expectStatus(await reply(ticketId, scId, { body: 'A reply' }, agent.auth), 200);
    expectStatus(
      await t.request({
        method: 'PUT',
        url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}`,
        payload: { side_conversation: { state: 'closed' } },
      }),
      200,
    );
    const expected = await eventsOf(t, ticketId, scId);
    assert.equal(expected.length, 3);

    const showRes = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}?include=events` });
    expectStatus(showRes, 200);
    assert.deepEqual(showRes.json<ShowBody>().events, expected);

    const listRes = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations.json?include=events` });
    expectStatus(listRes, 200);
    const list = listRes.json<ListBody>();
    assert.equal(list.side_conversations.length, 1);
    assert.deepEqual(list.events, expected);

    // Without include, no events key.
    const plain = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}` });
    expectStatus(plain, 200);
    assert.equal('events' in plain.json<ShowBody>(), false);
  });

  // -------------------------------------------------------------------------------------------
  // Bodies: HTML and previews
  // -------------------------------------------------------------------------------------------

  it('a plain body becomes escaped paragraphs in html_body', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const body = 'Line one\n\nLine <two> & "three"';
    const res = await reply(ticketId, created.side_conversation.id, { body });
    expectStatus(res, 200);
    const message = res.json<WriteBody>().event?.message;
    assert.ok(message);
    assert.equal(message.body, body);
    assert.equal(message.html_body, '<div class="zd-comment"><p>Line one</p><p>Line &lt;two&gt; &amp; &quot;three&quot;</p></div>');
    assert.equal(message.preview_text, 'Line one Line <two> & "three"');
  });

  it('a client html_body is sanitised, and body and preview_text are its plain text', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const html =
      '<p>Hello <em>world</em></p><script>alert(1)</script><img src=x onerror=alert(1)>' +
      '<a href="javascript:alert(1)">x</a><p><strong>ok</strong></p>';
    const res = await reply(ticketId, scId, { html_body: html });
    expectStatus(res, 200);
    const out = res.json<WriteBody>();
    const message = out.event?.message;
    assert.ok(message);
    for (const bad of ['script', 'onerror', 'javascript:', 'alert']) {
      assert.ok(!message.html_body.toLowerCase().includes(bad), `html_body keeps ${bad}: ${message.html_body}`);
      assert.ok(!message.body.toLowerCase().includes(bad), `body keeps ${bad}: ${message.body}`);
      assert.ok(!message.preview_text.toLowerCase().includes(bad), `preview keeps ${bad}`);
    }
    assert.ok(message.html_body.includes('<p><strong>ok</strong></p>'), message.html_body);
    assert.ok(message.html_body.includes('<em>world</em>'), message.html_body);
    assert.ok(!message.body.includes('<'), `body is plain text: ${message.body}`);
    assert.ok(message.body.includes('Hello world'), message.body);
    assert.ok(message.body.includes('ok'), message.body);
    assert.ok(!message.preview_text.includes('<'));
    assert.ok(message.preview_text.includes('Hello world'));
    assert.equal(out.side_conversation.preview_text, message.preview_text);

    // Stored as sanitised: the events list shows the same.
    const listed = (await eventsOf(t, ticketId, scId)).at(-1);
    assert.equal(listed?.message?.html_body, message.html_body);
  });

  it('preview_text of a 1,000-character body is one line of at most 140 characters', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const line = 'The quick brown fox jumps over the lazy dog.\n';
    const body = line.repeat(Math.ceil(1000 / line.length)).slice(0, 1000);
    assert.equal(body.length, 1000);
    const res = await reply(ticketId, created.side_conversation.id, { body });
    expectStatus(res, 200);
    const out = res.json<WriteBody>();
    for (const preview of [out.event?.message?.preview_text ?? '', out.side_conversation.preview_text]) {
      assert.ok(preview.length > 0);
      assert.ok(preview.length <= 140, `preview has ${preview.length} characters`);
      assert.ok(!/[\r\n]/.test(preview), 'no line breaks');
      assert.ok(preview.startsWith('The quick brown fox'), preview);
    }
    assert.equal(out.event?.message?.body, body.trim());
  });

  it('the preview of a long body of emoji does not split a character (reply and create)', async () => {
    const body = '\u{1F600}'.repeat(200); // 400 UTF-16 code units, no spaces to cut on
    const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const res = await reply(ticketId, created.side_conversation.id, { body });
    expectStatus(res, 200);
    const out = res.json<WriteBody>();
    assert.equal(out.event?.message?.body, body);
    for (const preview of [out.event?.message?.preview_text ?? '', out.side_conversation.preview_text]) {
      assert.ok(preview.length > 0 && preview.length <= 140, `${preview.length} characters`);
      assert.ok(!loneSurrogate.test(preview), 'no half of a surrogate pair');
      assert.ok(!preview.includes('\ufffd'), 'no replacement character');
    }

    const onCreate = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Emoji', body, to: [{ email: 'vendor@example.com' }] } },
    });
    expectStatus(onCreate, 201);
    const preview = onCreate.json<WriteBody>().side_conversation.preview_text;
    assert.ok(preview.length <= 140 && !loneSurrogate.test(preview));
  });

  // -------------------------------------------------------------------------------------------
  // Refusals
  // -------------------------------------------------------------------------------------------

  it('a blank body is a 422 and writes nothing', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const before = await counts();
    for (const message of [{ body: '   ' }, { body: '' }, {}, { html_body: '<p> </p>' }, { html_body: '<script>alert(1)</script>' }]) {
      const res = await reply(ticketId, scId, message);
      expectStatus(res, 422);
      const body = res.json<ValidationErrorBody>();
      assert.equal(body.error, 'RecordInvalid');
      assert.ok(body.details['message.body'], `${JSON.stringify(message)} → ${res.body}`);
    }
    assert.deepEqual(await counts(), before);
    assert.equal((await showSc(t, ticketId, scId)).preview_text, 'Hello there');
  });

  it('an external_ids value that is not a string is a 422 and writes nothing', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const before = await counts();
    const res = await reply(ticketId, scId, { body: 'With a bad id', external_ids: { crm: 42 } });
    expectStatus(res, 422);
    const body = res.json<ValidationErrorBody>();
    assert.equal(body.error, 'RecordInvalid');
    assert.ok(Object.keys(body.details).some((k) => k.startsWith('message.external_ids')), res.body);
    const nested = await reply(ticketId, scId, { body: 'Nested', external_ids: { crm: { id: 'x' } } });
    expectStatus(nested, 422);
    assert.equal(nested.json<ValidationErrorBody>().error, 'RecordInvalid');
    assert.deepEqual(await counts(), before);
  });

  it('end-users get 403 and anonymous callers 401, and nothing is written', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const before = await counts();

    const forbidden = await reply(ticketId, scId, { body: 'Let me in' }, endUser.auth);
    expectStatus(forbidden, 403);
    const forbiddenBody = forbidden.json<{ error: { title: string; message: string } }>();
    assert.equal(forbiddenBody.error.title, 'Forbidden');

    const anonymous = await reply(ticketId, scId, { body: 'Anyone?' }, null);
    expectStatus(anonymous, 401);
    assert.deepEqual(anonymous.json(), { error: "Couldn't authenticate you" });

    const eventsForbidden = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/events`, auth: endUser.auth });
    expectStatus(eventsForbidden, 403);
    const eventsAnonymous = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/events`, auth: null });
    expectStatus(eventsAnonymous, 401);

    assert.deepEqual(await counts(), before);
  });

  it('a reply to an unknown side conversation or ticket is a 404', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const before = await counts();
    const unknownSc = await reply(ticketId, randomUUID(), { body: 'Hello?' });
    expectStatus(unknownSc, 404);
    assert.deepEqual(unknownSc.json(), { error: 'RecordNotFound', description: 'Not found' });
    const unknownTicket = await reply(999999, created.side_conversation.id, { body: 'Hello?' });
    expectStatus(unknownTicket, 404);
    assert.deepEqual(unknownTicket.json(), { error: 'RecordNotFound', description: 'Not found' });
    const otherAccount = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations/${created.side_conversation.id}/reply`,
      payload: { message: { body: 'From acme' } },
      headers: { host: acmeHost },
      auth: acme.admin.auth,
    });
    expectStatus(otherAccount, 404);
    assert.deepEqual(otherAccount.json(), { error: 'RecordNotFound', description: 'Not found' });
    assert.deepEqual(await counts(), before);
  });

  it('a reply `from` somebody other than the caller is a 422 and writes nothing', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const before = await counts();
    const res = await reply(ticketId, created.side_conversation.id, { body: 'Spoofed', from: { email: 'ceo@example.com' } });
    expectStatus(res, 422);
    const body = res.json<ValidationErrorBody>();
    assert.equal(body.error, 'RecordInvalid');
    assert.ok(body.details['message.from'], res.body);
    const asOther = await reply(ticketId, created.side_conversation.id, { body: 'Spoofed', from: { user_id: agent.id } });
    expectStatus(asOther, 422);
    assert.deepEqual(await counts(), before);
    // Naming oneself is fine.
    const self = await reply(ticketId, created.side_conversation.id, { body: 'Me', from: { user_id: agent.id, email: agent.email } }, agent.auth);
    expectStatus(self, 200);
    assert.equal(self.json<WriteBody>().event?.message?.from.user_id, agent.id);
  });

  it('an update event carries only the changed fields', async () => {
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const res = await t.request({
      method: 'PUT',
      url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}`,
      payload: { side_conversation: { subject: 'New subject', state: 'open' } },
    });
    expectStatus(res, 200);
    const list = await eventsOf(t, ticketId, scId);
    assert.deepEqual(list.map((e) => e.type), ['create', 'update']);
    assert.deepEqual(list[1]!.updates, { subject: 'New subject' });
    assert.equal(list[1]!.message, null);
  });
});
