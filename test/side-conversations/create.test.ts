/**
 * Side Conversations REST API: List, Show, Create and Update, checked against Zendesk's reference
 * (seed/000_ab11591eae9ac2f8.txt, addresses de-obfuscated from its Java samples) and API-NOTES.md.
 *
 * One store per file; every test makes its own ticket so the tests do not lean on each other.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { ADMIN_EMAIL, basic, countRows, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { FORBIDDEN, NOT_FOUND, UNAUTHORIZED } from '../helpers/api.js';
import type { ErrorBody, ListBody, ShowBody, SideConversation, ValidationErrorBody, WriteBody } from '../helpers/api-types.js';

// ---------------------------------------------------------------------------------------------
// Response shapes (loosely typed: only what the tests read; the shared ones in helpers/api-types.ts)
// ---------------------------------------------------------------------------------------------

interface TicketBody {
  ticket: {
    id: number;
    subject: string;
    description: string;
    status: string;
    group_id: number | null;
    assignee_id: number | null;
    requester_id: number;
    via: { channel: string };
  };
}

interface CommentsBody {
  comments: Array<{ body: string; html_body: string; author_id: number }>;
  count: number;
}

interface GroupBody {
  group: { id: number; name: string };
}

interface ApiTokenBody {
  api_token: { id: number; user_id: number; token?: string };
}

// ---------------------------------------------------------------------------------------------
// Constants from the reference and the API notes
// ---------------------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Side conversations: 2018-11-20T16:58:36.453+00:00 */
const SC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;
/** Events: 2017-10-27T17:56:16.678Z */
const EVENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;


/** The reference's Create "Example body", with the address its Java sample spells out. */
const REFERENCE_CREATE_BODY = {
  message: {
    body: 'The smoke is very colorful.',
    subject: 'My printer is on fire!',
    to: [{ email: 'someone@example.com' }],
  },
};

/** The same body exactly as the obfuscated reference text prints it. */
const OBFUSCATED_CREATE_BODY = {
  message: {
    body: 'The smoke is very colorful.',
    subject: 'My printer is on fire!',
    to: [{ email: '[email protected]' }],
  },
};

/** The reference's Update "Example body": a full side conversation object, read-only fields and all. */
const REFERENCE_UPDATE_JSON = `{
  "side_conversation": {
    "created_at": "2018-11-20T16:58:36.453+00:00",
    "external_ids": {
      "my_system_id": "abc-123-xyz"
    },
    "id": "8566255a-ece5-11e8-857d-493066fa7b17",
    "message_added_at": "2018-11-20T16:58:36.453+00:00",
    "participants": [
      {
        "email": "johnny@example.com",
        "name": "Johnny Agent",
        "user_id": 35436
      },
      {
        "email": "bob@example.com",
        "name": null,
        "user_id": null
      }
    ],
    "preview_text": "I was trying to print an email when the printer suddenly started burning",
    "state": "open",
    "state_updated_at": "2018-11-20T16:58:36.453+00:00",
    "subject": "Help, my printer is on fire!",
    "updated_at": "2018-11-20T16:58:36.453+00:00",
    "url": "https://company.zendesk.com/api/v2/tickets/1/side_conversations/8566255a-ece5-11e8-857d-493066fa7b17"
  }
}`;
const REFERENCE_SC_ID = '8566255a-ece5-11e8-857d-493066fa7b17';

const UNICODE_SUBJECT =
  '🔥 Drucker brennt — 👩‍👩‍👧‍👦 \u200Fשלום עולם\u200F مرحبا بالعالم \u202Bembedded\u202C e\u0301 𝕳𝖊𝖑𝖑𝖔 ﷽ 漢字 🏳️‍🌈';
const UNICODE_BODY = 'Ça brûle 🔥 — ‏الطابعة تحترق‏ — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 — 👍🏽';

const COUNTED = [
  'side_conversations',
  'side_conversation_events',
  'side_conversation_participants',
  'outbox',
  'tickets',
  'ticket_comments',
] as const;
type Counts = Record<(typeof COUNTED)[number], number>;

/** Schema errors name array items `to.0.user_id`, the service `to[0].user_id`: compare both alike. */
function normaliseField(field: string): string {
  return field.replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}

function item<T>(list: readonly T[] | undefined, index: number): T {
  assert.ok(list, 'expected a list');
  const value = list[index];
  assert.ok(value !== undefined, `expected an item at index ${index} of ${list.length}`);
  return value;
}

function assertSideConversationShape(sc: SideConversation, ticketId: number): void {
  assert.match(sc.id, UUID);
  assert.equal(sc.ticket_id, ticketId);
  assert.match(sc.url, /^https?:\/\/[^/]+\/api\/v2\/tickets\//);
  assert.ok(sc.url.endsWith(`/api/v2/tickets/${ticketId}/side_conversations/${sc.id}`), sc.url);
  for (const key of ['created_at', 'updated_at', 'message_added_at', 'state_updated_at'] as const) {
    assert.match(sc[key], SC_TIME, `${key} = ${sc[key]}`);
  }
  assert.ok(sc.state === 'open' || sc.state === 'closed');
  assert.equal(typeof sc.subject, 'string');
  assert.equal(typeof sc.preview_text, 'string');
  assert.ok(Array.isArray(sc.participants));
  assert.equal(typeof sc.external_ids, 'object');
}

// ---------------------------------------------------------------------------------------------

describe(`side conversations API (${STORE_KIND})`, () => {
  let t: TestApp;
  let acme: { accountId: number; admin: TestUser };
  let agent: TestUser;
  let otherAgent: TestUser;
  let endUser: TestUser;
  let acmeAgent: TestUser;
  const AGENT_NAME = 'Agent Smith';
  const OTHER_AGENT_NAME = 'Agent Jones';
  let group: { id: number; name: string };
  let emptyGroup: { id: number; name: string };
  let acmeGroup: { id: number; name: string };
  let adminActor: { user_id: number; name: string; email: string };

  const ACME = { host: 'acme.localhost' };

  // --- helpers -------------------------------------------------------------------------------

  async function counts(): Promise<Counts> {
    const out = {} as Counts;
    for (const table of COUNTED) out[table] = await countRows(t.db, table);
    return out;
  }

  async function createTicket(subject = 'Printer trouble', auth?: string, headers?: Record<string, string>): Promise<number> {
    const res = await t.request({
      method: 'POST',
      url: '/api/v2/tickets.json',
      payload: { ticket: { subject, comment: { body: 'The printer is making odd noises.' } } },
      ...(auth ? { auth } : {}),
      ...(headers ? { headers } : {}),
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<TicketBody>().ticket.id;
  }

  async function createGroup(name: string, auth?: string, headers?: Record<string, string>): Promise<{ id: number; name: string }> {
    const res = await t.request({
      method: 'POST',
      url: '/api/v2/groups',
      payload: { group: { name } },
      ...(auth ? { auth } : {}),
      ...(headers ? { headers } : {}),
    });
    assert.equal(res.statusCode, 201, res.body);
    const created = res.json<GroupBody>().group;
    assert.equal(created.name, name);
    return { id: created.id, name: created.name };
  }

  async function addMember(userId: number, groupId: number, auth?: string, headers?: Record<string, string>): Promise<void> {
    const res = await t.request({
      method: 'POST',
      url: '/api/v2/group_memberships',
      payload: { group_membership: { user_id: userId, group_id: groupId } },
      ...(auth ? { auth } : {}),
      ...(headers ? { headers } : {}),
    });
    assert.equal(res.statusCode, 201, res.body);
  }

  function scPath(ticketId: number | string, id?: string): string {
    return `/api/v2/tickets/${ticketId}/side_conversations${id === undefined ? '' : `/${id}`}`;
  }

  function post(ticketId: number | string, payload: unknown, auth?: string, headers?: Record<string, string>): Promise<LightMyRequestResponse> {
    return t.request({
      method: 'POST',
      url: scPath(ticketId),
      payload: payload as object,
      ...(auth ? { auth } : {}),
      ...(headers ? { headers } : {}),
    });
  }

  function put(ticketId: number | string, id: string, payload: unknown, auth?: string, headers?: Record<string, string>): Promise<LightMyRequestResponse> {
    return t.request({
      method: 'PUT',
      url: scPath(ticketId, id),
      payload: payload as object,
      ...(auth ? { auth } : {}),
      ...(headers ? { headers } : {}),
    });
  }

  function get(url: string, auth?: string, headers?: Record<string, string>): Promise<LightMyRequestResponse> {
    return t.request({ method: 'GET', url, ...(auth ? { auth } : {}), ...(headers ? { headers } : {}) });
  }

  async function createSc(ticketId: number, message: Record<string, unknown>, extra: Record<string, unknown> = {}, auth?: string): Promise<WriteBody> {
    const res = await post(ticketId, { message, ...extra }, auth);
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json<WriteBody>();
    assertSideConversationShape(body.side_conversation, ticketId);
    return body;
  }

  async function emailSc(ticketId: number, subject = 'Quick question', auth?: string): Promise<SideConversation> {
    return (await createSc(ticketId, { subject, body: 'Can you help?', to: [{ email: 'vendor@example.com' }] }, {}, auth)).side_conversation;
  }

  async function showSc(ticketId: number, id: string, query = ''): Promise<ShowBody> {
    const res = await get(`${scPath(ticketId, id)}${query}`);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<ShowBody>();
  }

  async function listSc(ticketId: number, query = ''): Promise<ListBody> {
    const res = await get(`${scPath(ticketId)}${query}`);
    assert.equal(res.statusCode, 200, res.body);
    return res.json<ListBody>();
  }

  /** A 422 in Zendesk's shape, naming (at least) `field` in its details. */
  function assertInvalid(res: LightMyRequestResponse, ...fields: string[]): ValidationErrorBody {
    assert.equal(res.statusCode, 422, res.body);
    const body = res.json<ValidationErrorBody>();
    assert.equal(body.error, 'RecordInvalid');
    assert.equal(body.description, 'Record validation errors');
    assert.equal(typeof body.details, 'object');
    const keys = Object.keys(body.details).map(normaliseField);
    assert.ok(
      fields.some((f) => keys.includes(normaliseField(f))),
      `expected details on one of ${fields.join(' | ')}, got ${JSON.stringify(body.details)}`,
    );
    for (const entries of Object.values(body.details)) {
      assert.ok(Array.isArray(entries) && entries.length > 0);
      for (const entry of entries) assert.equal(typeof entry.description, 'string');
    }
    return body;
  }

  function detailsOf(body: ValidationErrorBody, field: string): Array<{ description: string; error?: string }> {
    const key = Object.keys(body.details).find((k) => normaliseField(k) === normaliseField(field));
    assert.ok(key, `no details on ${field}: ${JSON.stringify(body.details)}`);
    return body.details[key] ?? [];
  }

  function assertNotFound(res: LightMyRequestResponse): void {
    assert.equal(res.statusCode, 404, res.body);
    assert.deepEqual(res.json<ErrorBody>(), NOT_FOUND);
  }

  function assertUnauthorized(res: LightMyRequestResponse): void {
    assert.equal(res.statusCode, 401, res.body);
    assert.deepEqual(res.json<ErrorBody>(), UNAUTHORIZED);
  }

  function assertForbidden(res: LightMyRequestResponse): void {
    assert.equal(res.statusCode, 403, res.body);
    assert.deepEqual(res.json<typeof FORBIDDEN>(), FORBIDDEN);
  }

  /** Sends a request that must be refused with a 422 on `field`, and checks nothing was written. */
  async function refusedCreate(ticketId: number, payload: unknown, ...fields: string[]): Promise<ValidationErrorBody> {
    const before = await counts();
    const res = await post(ticketId, payload);
    const body = assertInvalid(res, ...fields);
    assert.deepEqual(await counts(), before, 'a refused create must write nothing');
    return body;
  }

  async function outboxRows(sideConversationId: string) {
    return t.db
      .selectFrom('outbox')
      .select(['channel', 'event_id', 'status', 'account_id'])
      .where('side_conversation_id', '=', sideConversationId)
      .execute();
  }

  before(async () => {
    t = await startTestApp();
    // The second account exists before the first request, so the host → account map knows it.
    acme = await t.createAccount('acme');
    agent = await t.createUser('agent', AGENT_NAME);
    otherAgent = await t.createUser('agent', OTHER_AGENT_NAME);
    endUser = await t.createUser('end-user', 'Eve Enduser');
    acmeAgent = await t.createUser('agent', 'Acme Agent', acme.accountId);
    group = await createGroup('Printer Fixers');
    // Slack and Teams side conversations need their workspace / bot connected first (issue 5).
    const slack = await t.request({
      method: 'POST',
      url: '/api/v2/sideline/integrations/slack',
      payload: { slack_workspace: { team_id: 'T123ABC', bot_token: 'xoxb-test', signing_secret: 'test-signing-secret' } },
    });
    assert.equal(slack.statusCode, 201, slack.body);
    const teams = await t.request({
      method: 'PUT',
      url: '/api/v2/sideline/integrations/teams',
      payload: { teams_bot: { app_id: 'app-1', app_password: 'secret', tenant_id: 'tenant-1', service_url: 'https://teams.invalid/teams' } },
    });
    assert.equal(teams.statusCode, 200, teams.body);
    emptyGroup = await createGroup('Nobody Home');
    await addMember(agent.id, group.id);
    acmeGroup = await createGroup('Acme Fixers', acme.admin.auth, ACME);
    await addMember(acmeAgent.id, acmeGroup.id, acme.admin.auth, ACME);
    adminActor = { user_id: t.admin.id, name: 'Administrator', email: ADMIN_EMAIL };
  });

  after(async () => {
    await t.close();
  });

  // ===========================================================================================
  describe('Create (POST /api/v2/tickets/{ticket_id}/side_conversations)', () => {
    it('answers the reference "Example body" (de-obfuscated) with 201 and the documented envelope, field by field', async () => {
      const ticketId = await createTicket('Printer on fire');
      const before = await counts();
      const res = await post(ticketId, REFERENCE_CREATE_BODY);
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json<WriteBody>();
      assert.deepEqual(Object.keys(body).sort(), ['event', 'side_conversation', 'updates']);
      assert.deepEqual(body.updates, {});

      const sc = body.side_conversation;
      assertSideConversationShape(sc, ticketId);
      assert.match(sc.url, /^http:\/\/localhost(:80)?\//);
      assert.equal(new URL(sc.url).pathname, `/api/v2/tickets/${ticketId}/side_conversations/${sc.id}`);
      assert.equal(new URL(sc.url).search, '');
      assert.equal(sc.subject, 'My printer is on fire!');
      assert.equal(sc.state, 'open');
      assert.equal(sc.preview_text, 'The smoke is very colorful.');
      assert.deepEqual(sc.external_ids, {});
      assert.deepEqual(sc.participants, [adminActor, { user_id: null, name: null, email: 'someone@example.com' }]);
      // A new conversation: all four times are its creation time.
      assert.equal(sc.updated_at, sc.created_at);
      assert.equal(sc.message_added_at, sc.created_at);
      assert.equal(sc.state_updated_at, sc.created_at);

      const event = body.event;
      assert.ok(event);
      assert.match(event.id, UUID);
      assert.notEqual(event.id, sc.id);
      assert.equal(event.side_conversation_id, sc.id);
      assert.equal(event.ticket_id, ticketId);
      assert.equal(event.type, 'create');
      assert.equal(event.via, 'api');
      assert.deepEqual(event.actor, adminActor);
      assert.match(event.created_at, EVENT_TIME);
      assert.equal(new Date(event.created_at).getTime(), new Date(sc.created_at).getTime());
      assert.deepEqual(event.updates, {});
      // The message also reports its delivery, per recipient: queued until the relay sends it.
      const message = { ...event.message } as Record<string, unknown>;
      const deliveries = message['deliveries'] as Array<Record<string, unknown>>;
      delete message['deliveries'];
      assert.equal(deliveries.length, 1);
      assert.deepEqual({ ...deliveries[0], updated_at: undefined }, { recipient: 'someone@example.com', status: 'queued', reason: null, updated_at: undefined });
      assert.deepEqual(message, {
        subject: 'My printer is on fire!',
        body: 'The smoke is very colorful.',
        html_body: '<div class="zd-comment"><p>The smoke is very colorful.</p></div>',
        preview_text: 'The smoke is very colorful.',
        from: adminActor,
        to: [{ email: 'someone@example.com', name: null, user_id: null }],
        attachments: [],
        external_ids: {},
      });

      // One conversation, one event, two participants, one delivery to make; no ticket.
      const now = await counts();
      assert.equal(now.side_conversations, before.side_conversations + 1);
      assert.equal(now.side_conversation_events, before.side_conversation_events + 1);
      assert.equal(now.side_conversation_participants, before.side_conversation_participants + 2);
      assert.equal(now.outbox, before.outbox + 1);
      assert.equal(now.tickets, before.tickets);
      const outbox = await outboxRows(sc.id);
      assert.deepEqual(outbox, [{ channel: 'email', event_id: event.id, status: 'pending', account_id: t.accountId }]);

      // Show answers the very same object.
      const shown = await showSc(ticketId, sc.id);
      assert.deepEqual(shown, { side_conversation: sc });
    });

    it('refuses the literal obfuscated address "[email protected]" with 422 on message.to[0].email', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(ticketId, OBFUSCATED_CREATE_BODY, 'message.to[0].email');
      assert.match(item(detailsOf(body, 'message.to[0].email'), 0).description, /email/i);
    });

    it('keeps external ids of the conversation and of the message apart (the reference Create example)', async () => {
      const ticketId = await createTicket();
      const body = await createSc(
        ticketId,
        {
          subject: 'My printer is on fire!',
          body: 'The smoke is very colorful.',
          to: [{ email: 'someone@example.com' }],
          external_ids: { 'message-external': 'xyz' },
        },
        { external_ids: { 'conversation-external': 'zyx' } },
      );
      assert.deepEqual(body.side_conversation.external_ids, { 'conversation-external': 'zyx' });
      assert.deepEqual(body.event?.message?.external_ids, { 'message-external': 'xyz' });
      const shown = await showSc(ticketId, body.side_conversation.id, '?include=events');
      assert.deepEqual(shown.side_conversation.external_ids, { 'conversation-external': 'zyx' });
      assert.deepEqual(item(shown.events, 0).message?.external_ids, { 'message-external': 'xyz' });
    });

    it('escapes a plain-text body in html_body and keeps the text as sent', async () => {
      const ticketId = await createTicket();
      const text = '<b>bold</b> & "quoted" \'single\'\n\n<script>alert(1)</script>';
      const body = await createSc(ticketId, { subject: 'Escaping', body: text, to: [{ email: 'someone@example.com' }] });
      const message = body.event?.message;
      assert.ok(message);
      assert.equal(message.body, text);
      assert.equal(
        message.html_body,
        '<div class="zd-comment"><p>&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; &#39;single&#39;</p><p>&lt;script&gt;alert(1)&lt;/script&gt;</p></div>',
      );
      assert.ok(!message.html_body.includes('<script'));
    });

    it('sanitises client html_body: no scripts, event handlers or javascript: links survive', async () => {
      const ticketId = await createTicket();
      const html =
        '<p>Hi <strong>there</strong></p><script>alert(1)</script><img src="https://example.com/x.png" onerror="alert(2)"><a href="javascript:alert(3)">click</a>';
      const body = await createSc(ticketId, { subject: 'HTML', html_body: html, to: [{ email: 'someone@example.com' }] });
      const message = body.event?.message;
      assert.ok(message);
      assert.ok(message.html_body.includes('<strong>there</strong>'), message.html_body);
      for (const bad of ['<script', 'alert(1)', 'onerror', 'javascript:']) {
        assert.ok(!message.html_body.toLowerCase().includes(bad), `${bad} survived in ${message.html_body}`);
      }
      assert.match(message.body, /^Hi there/);
      assert.ok(!message.body.includes('alert(1)'));
      assert.equal(body.side_conversation.preview_text, message.preview_text);
    });

    it('accepts a subject of exactly 255 characters', async () => {
      const ticketId = await createTicket();
      const subject = 'S'.repeat(255);
      const body = await createSc(ticketId, { subject, body: 'Long subject', to: [{ email: 'someone@example.com' }] });
      assert.equal(body.side_conversation.subject, subject);
      assert.equal(body.event?.message?.subject, subject);
    });

    it('a long body gives a one-line preview_text of at most 140 characters', async () => {
      const ticketId = await createTicket();
      const text = `${'The printer is on fire again. '.repeat(20)}\n\nSecond paragraph.`;
      const body = await createSc(ticketId, { subject: 'Long', body: text, to: [{ email: 'someone@example.com' }] });
      const preview = body.side_conversation.preview_text;
      assert.ok(preview.length > 0 && preview.length <= 140, `${preview.length}: ${preview}`);
      assert.ok(!/[\r\n]/.test(preview));
      assert.ok(preview.startsWith('The printer is on fire again.'));
      assert.equal(body.event?.message?.preview_text, preview);
      assert.equal(body.event?.message?.body, text.trim());
    });

    it('a forged Host header cannot inject markup into the url field', async () => {
      const ticketId = await createTicket();
      const res = await post(ticketId, REFERENCE_CREATE_BODY, undefined, { host: 'support.evil"><svg onload=alert(1)>' });
      assert.equal(res.statusCode, 201, res.body);
      const url = res.json<WriteBody>().side_conversation.url;
      assert.ok(!/[<>"\s]/.test(url), url);
      assert.ok(url.endsWith(`/api/v2/tickets/${ticketId}/side_conversations/${res.json<WriteBody>().side_conversation.id}`));
    });

    it('round-trips a deep unicode subject and body (emoji, ZWJ sequences, RTL marks, combining marks, astral) exactly', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, { subject: UNICODE_SUBJECT, body: UNICODE_BODY, to: [{ email: 'someone@example.com' }] });
      assert.equal(body.side_conversation.subject, UNICODE_SUBJECT);
      assert.equal(body.event?.message?.subject, UNICODE_SUBJECT);
      assert.equal(body.event?.message?.body, UNICODE_BODY);
      const shown = await showSc(ticketId, body.side_conversation.id, '?include=events');
      assert.equal(shown.side_conversation.subject, UNICODE_SUBJECT);
      assert.equal(item(shown.events, 0).message?.subject, UNICODE_SUBJECT);
      assert.equal(item(shown.events, 0).message?.body, UNICODE_BODY);
      const list = await listSc(ticketId);
      assert.equal(item(list.side_conversations, 0).subject, UNICODE_SUBJECT);
    });
  });

  // ===========================================================================================
  describe('participant types (the reference "Side conversation types" table)', () => {
    it('email by user_id: resolves to that user\'s name and address', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, { subject: 'By id', body: 'Hello agent', to: [{ user_id: agent.id }] });
      const recipient = { user_id: agent.id, name: AGENT_NAME, email: agent.email };
      assert.deepEqual(body.side_conversation.participants, [adminActor, recipient]);
      assert.deepEqual(body.event?.message?.to, [recipient]);
      assert.deepEqual(await outboxRows(body.side_conversation.id), [
        { channel: 'email', event_id: body.event?.id, status: 'pending', account_id: t.accountId },
      ]);
    });

    it('email by address: an outside address has no user and no name', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, { subject: 'By email', body: 'Hello Bob', to: [{ email: 'bob@example.com' }] });
      assert.deepEqual(body.side_conversation.participants, [adminActor, { user_id: null, name: null, email: 'bob@example.com' }]);
      assert.equal((await outboxRows(body.side_conversation.id)).length, 1);
    });

    it('email by address of a known user of the account: resolves to that user', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, { subject: 'Known', body: 'Hello', to: [{ email: agent.email.toUpperCase() }] });
      assert.deepEqual(item(body.side_conversation.participants, 1), { user_id: agent.id, name: AGENT_NAME, email: agent.email });
    });

    it('email by address and name (the reference "John Doe" example)', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, {
        subject: 'My printer is on fire!',
        body: 'The smoke is very colorful.',
        to: [{ email: 'johnny@example.com', name: 'John Doe' }],
      });
      const recipient = { user_id: null, name: 'John Doe', email: 'johnny@example.com' };
      assert.deepEqual(body.side_conversation.participants, [adminActor, recipient]);
      assert.deepEqual(body.event?.message?.to, [recipient]);
    });

    it('several email recipients: one conversation, one delivery, duplicates folded', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const body = await createSc(ticketId, {
        subject: 'Many',
        body: 'Hello all',
        to: [{ email: 'bob@example.com' }, { email: 'BOB@example.com' }, { user_id: agent.id }, { email: 'johnny@example.com', name: 'Johnny' }],
      });
      assert.deepEqual(body.side_conversation.participants, [
        adminActor,
        { user_id: null, name: null, email: 'bob@example.com' },
        { user_id: agent.id, name: AGENT_NAME, email: agent.email },
        { user_id: null, name: 'Johnny', email: 'johnny@example.com' },
      ]);
      const now = await counts();
      assert.equal(now.side_conversation_participants, before.side_conversation_participants + 4);
      assert.equal(now.outbox, before.outbox + 1);
    });

    it('Slack: slack_workspace_id + slack_channel_id', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, {
        subject: 'My printer is on fire!',
        body: 'The smoke is very colorful.',
        to: [{ slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' }],
      });
      const recipient = { user_id: null, name: null, email: null, slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' };
      assert.deepEqual(body.side_conversation.participants, [adminActor, recipient]);
      assert.deepEqual(body.event?.message?.to, [recipient]);
      assert.deepEqual(body.side_conversation.external_ids, {});
      assert.deepEqual(await outboxRows(body.side_conversation.id), [
        { channel: 'slack', event_id: body.event?.id, status: 'pending', account_id: t.accountId },
      ]);
    });

    it('child ticket by support_group_id: a real ticket in that group, with the message as its first comment', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const body = await createSc(ticketId, {
        subject: 'My printer is on fire!',
        body: 'The smoke is very colorful.',
        to: [{ support_group_id: group.id }],
      });
      const sc = body.side_conversation;
      const target = sc.external_ids['targetTicketId'];
      assert.ok(target, JSON.stringify(sc.external_ids));
      assert.match(target, /^\d+$/);
      const childId = Number(target);
      assert.notEqual(childId, ticketId);
      const recipient = { user_id: null, name: group.name, email: null, support_group_id: group.id, support_agent_id: null };
      assert.deepEqual(sc.participants, [adminActor, recipient]);
      assert.deepEqual(body.event?.message?.to, [recipient]);

      const child = await get(`/api/v2/tickets/${childId}`);
      assert.equal(child.statusCode, 200, child.body);
      const ticket = child.json<TicketBody>().ticket;
      assert.equal(ticket.id, childId);
      assert.equal(ticket.group_id, group.id);
      assert.equal(ticket.assignee_id, null);
      assert.equal(ticket.subject, 'My printer is on fire!');
      assert.equal(ticket.via.channel, 'side_conversation');
      const comments = await get(`/api/v2/tickets/${childId}/comments`);
      assert.equal(comments.statusCode, 200, comments.body);
      const first = item(comments.json<CommentsBody>().comments, 0);
      assert.equal(first.body, 'The smoke is very colorful.');
      assert.equal(first.author_id, t.admin.id);

      // Show and List expose the child ticket id the same way.
      assert.equal((await showSc(ticketId, sc.id)).side_conversation.external_ids['targetTicketId'], target);
      assert.equal(item((await listSc(ticketId)).side_conversations, 0).external_ids['targetTicketId'], target);

      const now = await counts();
      assert.equal(now.tickets, before.tickets + 1);
      assert.equal(now.outbox, before.outbox, 'child tickets are written in place: no outbox row');
      assert.deepEqual(await outboxRows(sc.id), []);
    });

    it('child ticket by support_group_id given as a string (the reference types it as a string)', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, { subject: 'String id', body: 'Please look', to: [{ support_group_id: String(group.id) }] });
      const childId = Number(body.side_conversation.external_ids['targetTicketId']);
      const child = await get(`/api/v2/tickets/${childId}`);
      assert.equal(child.statusCode, 200, child.body);
      assert.equal(child.json<TicketBody>().ticket.group_id, group.id);
      assert.equal(item(body.side_conversation.participants, 1).support_group_id, group.id);
    });

    it('child ticket by support_group_id + support_agent_id: assigned to that group member', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const body = await createSc(ticketId, {
        subject: 'Assigned child',
        body: 'Agent, please take this.',
        to: [{ support_group_id: group.id, support_agent_id: agent.id }],
      });
      const sc = body.side_conversation;
      const childId = Number(sc.external_ids['targetTicketId']);
      assert.ok(Number.isInteger(childId) && childId > 0);
      const recipient = { user_id: agent.id, name: AGENT_NAME, email: agent.email, support_group_id: group.id, support_agent_id: agent.id };
      assert.deepEqual(sc.participants, [adminActor, recipient]);

      const child = await get(`/api/v2/tickets/${childId}.json`);
      assert.equal(child.statusCode, 200, child.body);
      const ticket = child.json<TicketBody>().ticket;
      assert.equal(ticket.group_id, group.id);
      assert.equal(ticket.assignee_id, agent.id);
      assert.equal(ticket.subject, 'Assigned child');
      const comments = await get(`/api/v2/tickets/${childId}/comments.json`);
      assert.equal(item(comments.json<CommentsBody>().comments, 0).body, 'Agent, please take this.');

      const now = await counts();
      assert.equal(now.tickets, before.tickets + 1);
      assert.equal(now.outbox, before.outbox);
    });

    it('Microsoft Teams: msteams_channel_id', async () => {
      const ticketId = await createTicket();
      const channel = '19:1a2b3c4d5e@thread.tacv2';
      const body = await createSc(ticketId, { subject: 'Teams', body: 'The smoke is very colorful.', to: [{ msteams_channel_id: channel }] });
      const recipient = { user_id: null, name: null, email: null, msteams_channel_id: channel };
      assert.deepEqual(body.side_conversation.participants, [adminActor, recipient]);
      assert.deepEqual(body.event?.message?.to, [recipient]);
      assert.deepEqual(await outboxRows(body.side_conversation.id), [
        { channel: 'msteams', event_id: body.event?.id, status: 'pending', account_id: t.accountId },
      ]);
    });
  });

  // ===========================================================================================
  describe('Create validation: 422 RecordInvalid and nothing half-written', () => {
    const TO = [{ email: 'someone@example.com' }];

    it('mixing email and Slack participants names the clashing properties', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(
        ticketId,
        { message: { subject: 'Mixed', body: 'x', to: [{ email: 'a@example.com' }, { slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' }] } },
        'message.to',
      );
      const description = item(detailsOf(body, 'message.to'), 0).description;
      for (const property of ['email', 'slack_workspace_id', 'slack_channel_id']) assert.ok(description.includes(property), description);
    });

    it('mixing properties of two types in one participant object names them', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(
        ticketId,
        { message: { subject: 'Mixed', body: 'x', to: [{ email: 'a@example.com', support_group_id: group.id }] } },
        'message.to',
      );
      const description = item(detailsOf(body, 'message.to'), 0).description;
      assert.ok(description.includes('email') && description.includes('support_group_id'), description);
    });

    it('mixing a child ticket and Microsoft Teams names them (and creates no ticket)', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(
        ticketId,
        { message: { subject: 'Mixed', body: 'x', to: [{ support_group_id: group.id }, { msteams_channel_id: '19:abc@thread.tacv2' }] } },
        'message.to',
      );
      const description = item(detailsOf(body, 'message.to'), 0).description;
      assert.ok(description.includes('support_group_id') && description.includes('msteams_channel_id'), description);
    });

    it('an empty `to` list', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Nobody', body: 'x', to: [] } }, 'message.to');
    });

    it('a missing `to`', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Nobody', body: 'x' } }, 'message.to');
    });

    it('a participant with only a name', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Name only', body: 'x', to: [{ name: 'Just A Name' }] } }, 'message.to[0]');
    });

    it('a missing body', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'No body', to: TO } }, 'message.body');
    });

    it('a blank body', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Blank', body: '   \n\t ', to: TO } }, 'message.body');
    });

    it('a side-conversation external_ids value that is not a string', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Ext', body: 'x', to: TO }, external_ids: { 'conversation-external': 123 } },
        'external_ids.conversation-external',
        'external_ids',
      );
    });

    it('a message external_ids value that is not a string', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Ext', body: 'x', to: TO, external_ids: { 'message-external': { nested: 'xyz' } } } },
        'message.external_ids.message-external',
        'message.external_ids',
      );
    });

    it('external_ids that is not an object', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Ext', body: 'x', to: TO }, external_ids: ['zyx'] }, 'external_ids');
    });

    it('an unknown user_id', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Ghost', body: 'x', to: [{ user_id: 987654321 }] } }, 'message.to[0].user_id');
    });

    it('a user_id with an email that is not that user\'s', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Mismatch', body: 'x', to: [{ user_id: agent.id, email: 'someone-else@example.com' }] } },
        'message.to[0].email',
      );
    });

    it('a group that does not exist', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'No group', body: 'x', to: [{ support_group_id: 987654321 }] } }, 'message.to[0].support_group_id');
    });

    it('an agent who is not a member of the group', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(
        ticketId,
        { message: { subject: 'Outsider', body: 'x', to: [{ support_group_id: emptyGroup.id, support_agent_id: otherAgent.id }] } },
        'message.to[0].support_agent_id',
      );
      assert.match(item(detailsOf(body, 'message.to[0].support_agent_id'), 0).description, /member/i);
    });

    it('a support_agent_id that is an end-user', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'End-user', body: 'x', to: [{ support_group_id: group.id, support_agent_id: endUser.id }] } },
        'message.to[0].support_agent_id',
      );
    });

    it('two Slack channels', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        {
          message: {
            subject: 'Two',
            body: 'x',
            to: [
              { slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' },
              { slack_workspace_id: 'T123ABC', slack_channel_id: 'C789GHI' },
            ],
          },
        },
        'message.to',
      );
    });

    it('a Slack participant without its channel id', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Half', body: 'x', to: [{ slack_workspace_id: 'T123ABC' }] } }, 'message.to[0].slack_channel_id');
    });

    it('two child-ticket groups', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Two', body: 'x', to: [{ support_group_id: group.id }, { support_group_id: emptyGroup.id }] } },
        'message.to',
      );
    });

    it('a subject with CR/LF (mail header injection)', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Hello\r\nBcc: victim@example.com', body: 'x', to: TO } }, 'message.subject');
    });

    it('a subject with a bare LF', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'Hello\nX-Injected: 1', body: 'x', to: TO } }, 'message.subject');
    });

    it('a participant name with CR/LF (mail header injection)', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Name', body: 'x', to: [{ email: 'someone@example.com', name: 'Bob\r\nBcc: victim@example.com' }] } },
        'message.to[0].name',
      );
    });

    it('an email address with CR/LF (mail header injection)', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Addr', body: 'x', to: [{ email: 'someone@example.com\r\nBcc: victim@example.com' }] } },
        'message.to[0].email',
      );
    });

    it('a subject longer than 255 characters', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'S'.repeat(256), body: 'x', to: TO } }, 'message.subject');
    });

    it('a huge subject (10,000 characters)', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'x'.repeat(10_000), body: 'x', to: TO } }, 'message.subject');
    });

    it('an unknown attachment id (the reference\'s, never uploaded here)', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { ...REFERENCE_CREATE_BODY.message, attachment_ids: ['s3-d2a3111e-26d9-4e1c-88b4-cf7c0649d81d'] } },
        'message.attachment_ids',
      );
    });

    it('more than 50 email recipients', async () => {
      const ticketId = await createTicket();
      const to = Array.from({ length: 51 }, (_, i) => ({ email: `person${i}@example.com` }));
      await refusedCreate(ticketId, { message: { subject: 'Crowd', body: 'x', to } }, 'message.to');
    });

    it('reports every bad field of one request at once (subject, body, external ids)', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(
        ticketId,
        { message: { subject: 'Bad\r\nsubject', body: '  ', to: TO }, external_ids: { k: 1 } },
        'message.subject',
      );
      detailsOf(body, 'message.body');
      detailsOf(body, 'external_ids.k');
    });
  });

  // ===========================================================================================
  describe('request bodies: malformed, mistyped, odd', () => {
    it('malformed JSON is a 400 InvalidJSON on Create, and writes nothing', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const res = await t.request({
        method: 'POST',
        url: scPath(ticketId),
        payload: '{"message": {"subject": "x", "body": "y", "to": [{"email": "someone@example.com"}]',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.statusCode, 400, res.body);
      const body = res.json<ErrorBody>();
      assert.equal(body.error, 'InvalidJSON');
      assert.equal(typeof body.description, 'string');
      assert.deepEqual(await counts(), before);
    });

    it('malformed JSON is a 400 InvalidJSON on Update, and changes nothing', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Unchanged');
      const res = await t.request({
        method: 'PUT',
        url: scPath(ticketId, sc.id),
        payload: "{'side_conversation': {'state': 'closed'}}",
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json<ErrorBody>().error, 'InvalidJSON');
      const shown = await showSc(ticketId, sc.id);
      assert.equal(shown.side_conversation.state, 'open');
      assert.equal(shown.side_conversation.subject, 'Unchanged');
    });

    it('a body sent as text/plain is a 400 InvalidJSON (API notes: wrong content type)', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const res = await t.request({
        method: 'POST',
        url: scPath(ticketId),
        payload: JSON.stringify(REFERENCE_CREATE_BODY),
        headers: { 'content-type': 'text/plain' },
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json<ErrorBody>().error, 'InvalidJSON');
      assert.deepEqual(await counts(), before);
    });

    it('an empty JSON body is a 422 naming `message`, not a 400', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const res = await t.request({ method: 'POST', url: scPath(ticketId), payload: '', headers: { 'content-type': 'application/json' } });
      assertInvalid(res, 'message');
      assert.deepEqual(await counts(), before);
    });

    it('GET with Content-Type: application/json and no body works (what real clients send)', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId);
      const res = await get(scPath(ticketId, sc.id), undefined, { 'content-type': 'application/json' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<ShowBody>().side_conversation.id, sc.id);
      const list = await get(scPath(ticketId), undefined, { 'content-type': 'application/json' });
      assert.equal(list.statusCode, 200, list.body);
      assert.equal(list.json<ListBody>().count, 1);
    });

    it('a body over the size limit is a 413 PayloadTooLarge, and writes nothing', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const res = await post(ticketId, { message: { ...REFERENCE_CREATE_BODY.message, body: 'x'.repeat(1_100_000) } });
      assert.equal(res.statusCode, 413, res.body.slice(0, 300));
      const body = res.json<ErrorBody>();
      assert.equal(body.error, 'PayloadTooLarge');
      assert.equal(typeof body.description, 'string');
      assert.deepEqual(await counts(), before);
    });

    it('prototype-poisoning keys (__proto__, constructor.prototype) are refused with 400 InvalidJSON, and nothing leaks', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      for (const payload of [
        '{"message":{"subject":"p","body":"b","to":[{"email":"someone@example.com"}]},"external_ids":{"__proto__":{"polluted":"yes"}}}',
        '{"message":{"subject":"p","body":"b","to":[{"email":"someone@example.com"}],"__proto__":{"polluted":"yes"}}}',
        '{"message":{"subject":"p","body":"b","to":[{"email":"someone@example.com"}]},"constructor":{"prototype":{"polluted":"yes"}}}',
      ]) {
        const res = await t.request({ method: 'POST', url: scPath(ticketId), payload, headers: { 'content-type': 'application/json' } });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json<ErrorBody>().error, 'InvalidJSON');
      }
      assert.equal((Object.prototype as Record<string, unknown>)['polluted'], undefined);
      assert.deepEqual(await counts(), before);
    });

    it('credentials are checked before the body is read: no credentials + malformed JSON is a 401', async () => {
      const ticketId = await createTicket();
      const res = await t.request({ method: 'POST', url: scPath(ticketId), payload: '{not json', headers: { 'content-type': 'application/json' }, auth: null });
      assertUnauthorized(res);
      const forbidden = await t.request({ method: 'POST', url: scPath(ticketId), payload: '{not json', headers: { 'content-type': 'application/json' }, auth: endUser.auth });
      assertForbidden(forbidden);
    });

    const WRONG_TYPES: Array<{ name: string; payload: unknown; field: string }> = [
      { name: 'to is a string', payload: { message: { subject: 's', body: 'b', to: 'x' } }, field: 'message.to' },
      { name: 'message is a number', payload: { message: 5 }, field: 'message' },
      { name: 'message is null', payload: { message: null }, field: 'message' },
      { name: 'the body is a JSON array', payload: [REFERENCE_CREATE_BODY], field: 'base' },
      { name: 'subject is a number', payload: { message: { subject: 5, body: 'b', to: [{ email: 'a@example.com' }] } }, field: 'message.subject' },
      { name: 'body is an object', payload: { message: { subject: 's', body: { text: 'b' }, to: [{ email: 'a@example.com' }] } }, field: 'message.body' },
      { name: 'a participant is null', payload: { message: { subject: 's', body: 'b', to: [null] } }, field: 'message.to[0]' },
      { name: 'a participant is a string', payload: { message: { subject: 's', body: 'b', to: ['someone@example.com'] } }, field: 'message.to[0]' },
      { name: 'user_id is a string', payload: { message: { subject: 's', body: 'b', to: [{ user_id: 'abc' }] } }, field: 'message.to[0].user_id' },
      { name: 'email is a number', payload: { message: { subject: 's', body: 'b', to: [{ email: 42 }] } }, field: 'message.to[0].email' },
      { name: 'attachment_ids is a string', payload: { message: { subject: 's', body: 'b', to: [{ email: 'a@example.com' }], attachment_ids: 'abc' } }, field: 'message.attachment_ids' },
      { name: 'from is a string', payload: { message: { subject: 's', body: 'b', to: [{ email: 'a@example.com' }], from: 'me' } }, field: 'message.from' },
    ];
    for (const c of WRONG_TYPES) {
      it(`wrong type in the Create body is a 422, not a 500: ${c.name}`, async () => {
        const ticketId = await createTicket();
        await refusedCreate(ticketId, c.payload, c.field);
      });
    }

    it('a NUL character in the body is a 422, not a 500', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'NUL', body: 'before\u0000after', to: [{ email: 'someone@example.com' }] } }, 'message.body');
    });

    it('a NUL character in an external id value is a 422, not a 500', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'NUL', body: 'x', to: [{ email: 'someone@example.com' }] }, external_ids: { k: 'a\u0000b' } },
        'external_ids.k',
        'external_ids',
      );
    });

    it('a lone UTF-16 surrogate in the subject is a 422, not a 500', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'broken \ud800 subject', body: 'x', to: [{ email: 'someone@example.com' }] } }, 'message.subject');
    });

    it('a lone UTF-16 surrogate in a participant name is a 422, not a 500', async () => {
      const ticketId = await createTicket();
      await refusedCreate(
        ticketId,
        { message: { subject: 'Name', body: 'x', to: [{ email: 'someone@example.com', name: 'Bob \udfff' }] } },
        'message.to[0].name',
      );
    });

    it('a lone UTF-16 surrogate in an Update subject is a 422, not a 500', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Fine subject');
      const before = await counts();
      const res = await put(ticketId, sc.id, { side_conversation: { subject: 'broken \udc00 subject' } });
      assertInvalid(res, 'subject', 'side_conversation.subject');
      assert.deepEqual(await counts(), before);
      assert.equal((await showSc(ticketId, sc.id)).side_conversation.subject, 'Fine subject');
    });
  });

  // ===========================================================================================
  describe('Update (PUT /api/v2/tickets/{ticket_id}/side_conversations/{id})', () => {
    it('takes the reference "Example body" as-is: only the subject changes, read-only fields are ignored; then closing records an update event', async () => {
      const ticketId = await createTicket();
      const created = await createSc(
        ticketId,
        { subject: 'Original subject', body: 'I was trying to print an email', to: [{ email: 'bob@example.com' }] },
        { external_ids: { mine: 'kept' } },
      );
      const original = (await showSc(ticketId, created.side_conversation.id)).side_conversation;
      const eventsBefore = await countRows(t.db, 'side_conversation_events');

      const res = await t.request({
        method: 'PUT',
        url: scPath(ticketId, original.id),
        payload: REFERENCE_UPDATE_JSON,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<WriteBody>();
      assert.deepEqual(Object.keys(body).sort(), ['event', 'side_conversation', 'updates']);
      assert.deepEqual(body.updates, { subject: 'Help, my printer is on fire!' });

      const updated = body.side_conversation;
      assertSideConversationShape(updated, ticketId);
      assert.equal(updated.subject, 'Help, my printer is on fire!');
      // Read-only (and not-updatable) fields of the object sent back are ignored.
      assert.equal(updated.id, original.id);
      assert.notEqual(updated.id, REFERENCE_SC_ID);
      assert.equal(updated.url, original.url);
      assert.ok(!updated.url.includes('company.zendesk.com'));
      assert.equal(updated.ticket_id, ticketId);
      assert.equal(updated.created_at, original.created_at);
      assert.equal(updated.message_added_at, original.message_added_at);
      assert.equal(updated.state_updated_at, original.state_updated_at, 'state did not change');
      assert.equal(updated.state, 'open');
      assert.equal(updated.preview_text, original.preview_text);
      assert.deepEqual(updated.participants, original.participants);
      assert.deepEqual(updated.external_ids, { mine: 'kept' });
      assert.ok(updated.updated_at > original.updated_at, `${updated.updated_at} should be after ${original.updated_at}`);

      const event = body.event;
      assert.ok(event);
      assert.match(event.id, UUID);
      assert.equal(event.type, 'update');
      assert.equal(event.via, 'api');
      assert.equal(event.side_conversation_id, original.id);
      assert.equal(event.ticket_id, ticketId);
      assert.deepEqual(event.actor, adminActor);
      assert.equal(event.message, null);
      assert.deepEqual(event.updates, { subject: 'Help, my printer is on fire!' });
      assert.match(event.created_at, EVENT_TIME);
      assert.equal(await countRows(t.db, 'side_conversation_events'), eventsBefore + 1);

      // The reference's own id was never created.
      assertNotFound(await get(scPath(ticketId, REFERENCE_SC_ID)));

      // Now the documented short body: close it.
      const closed = await put(ticketId, original.id, { side_conversation: { state: 'closed' } });
      assert.equal(closed.statusCode, 200, closed.body);
      const closedBody = closed.json<WriteBody>();
      assert.deepEqual(closedBody.updates, { state: 'closed' });
      assert.equal(closedBody.side_conversation.state, 'closed');
      assert.equal(closedBody.side_conversation.subject, 'Help, my printer is on fire!');
      assert.ok(
        closedBody.side_conversation.state_updated_at > updated.state_updated_at,
        `${closedBody.side_conversation.state_updated_at} should be after ${updated.state_updated_at}`,
      );
      assert.equal(closedBody.side_conversation.created_at, original.created_at);
      assert.equal(closedBody.event?.type, 'update');
      assert.deepEqual(closedBody.event?.updates, { state: 'closed' });

      const shown = await showSc(ticketId, original.id, '?include=events');
      assert.equal(shown.side_conversation.state, 'closed');
      const events = shown.events;
      assert.ok(events);
      assert.deepEqual(
        events.map((e) => [e.type, e.updates]),
        [
          ['create', {}],
          ['update', { subject: 'Help, my printer is on fire!' }],
          ['update', { state: 'closed' }],
        ],
      );
      assert.equal(item(events, 2).id, closedBody.event?.id);
      assert.equal(item(events, 2).message, null);
      for (const e of events) {
        assert.equal(e.side_conversation_id, original.id);
        assert.match(e.created_at, EVENT_TIME);
      }
    });

    it('a no-op update answers event:null and updates:{} and writes no event', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Help, my printer is on fire!');
      const before = await counts();
      const noOps: unknown[] = [
        { side_conversation: {} },
        { side_conversation: { state: 'open' } },
        { side_conversation: { subject: 'Help, my printer is on fire!' } },
        { side_conversation: { subject: '  Help, my printer is on fire!  ' } },
        { side_conversation: { subject: null } },
        JSON.parse(REFERENCE_UPDATE_JSON) as unknown,
      ];
      for (const payload of noOps) {
        const res = await put(ticketId, sc.id, payload);
        assert.equal(res.statusCode, 200, `${JSON.stringify(payload)} → ${res.body}`);
        const body = res.json<WriteBody>();
        assert.equal(body.event, null, JSON.stringify(payload));
        assert.deepEqual(body.updates, {});
        assert.deepEqual(body.side_conversation, sc, 'nothing about the conversation moved');
      }
      assert.deepEqual(await counts(), before);
      const shown = await showSc(ticketId, sc.id, '?include=events');
      assert.deepEqual(shown.events?.map((e) => e.type), ['create']);
    });

    it('closing a closed conversation is a no-op; reopening records state "open"', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId);
      const first = await put(ticketId, sc.id, { side_conversation: { state: 'closed' } });
      assert.deepEqual(first.json<WriteBody>().updates, { state: 'closed' });
      const again = await put(ticketId, sc.id, { side_conversation: { state: 'closed' } });
      assert.equal(again.statusCode, 200);
      assert.equal(again.json<WriteBody>().event, null);
      assert.deepEqual(again.json<WriteBody>().updates, {});
      assert.equal(again.json<WriteBody>().side_conversation.state, 'closed');
      const reopened = await put(ticketId, sc.id, { side_conversation: { state: 'open' } });
      assert.equal(reopened.statusCode, 200, reopened.body);
      assert.deepEqual(reopened.json<WriteBody>().updates, { state: 'open' });
      assert.equal(reopened.json<WriteBody>().side_conversation.state, 'open');
      const shown = await showSc(ticketId, sc.id, '?include=events');
      assert.deepEqual(shown.events?.map((e) => e.updates), [{}, { state: 'closed' }, { state: 'open' }]);
    });

    it('changing state and subject together records one event with both updates', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Before');
      const before = await countRows(t.db, 'side_conversation_events');
      const res = await put(ticketId, sc.id, { side_conversation: { state: 'closed', subject: 'After' } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<WriteBody>();
      assert.deepEqual(body.updates, { state: 'closed', subject: 'After' });
      assert.deepEqual(body.event?.updates, { state: 'closed', subject: 'After' });
      assert.equal(body.side_conversation.state, 'closed');
      assert.equal(body.side_conversation.subject, 'After');
      assert.equal(await countRows(t.db, 'side_conversation_events'), before + 1);
    });

    it('works on the .json path and round-trips a unicode subject', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId);
      const res = await t.request({ method: 'PUT', url: `${scPath(ticketId, sc.id)}.json`, payload: { side_conversation: { subject: UNICODE_SUBJECT } } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<WriteBody>().side_conversation.subject, UNICODE_SUBJECT);
      assert.deepEqual(res.json<WriteBody>().updates, { subject: UNICODE_SUBJECT });
      assert.equal((await showSc(ticketId, sc.id)).side_conversation.subject, UNICODE_SUBJECT);
    });

    const BAD_UPDATES: Array<{ name: string; payload: unknown; fields: string[] }> = [
      { name: 'state "archived"', payload: { side_conversation: { state: 'archived' } }, fields: ['state', 'side_conversation.state'] },
      { name: 'state "Closed" (case matters)', payload: { side_conversation: { state: 'Closed' } }, fields: ['state', 'side_conversation.state'] },
      { name: 'state null', payload: { side_conversation: { state: null } }, fields: ['state', 'side_conversation.state'] },
      { name: 'state a number', payload: { side_conversation: { state: 1 } }, fields: ['state', 'side_conversation.state'] },
      { name: 'a blank subject', payload: { side_conversation: { subject: '   ' } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'an empty subject', payload: { side_conversation: { subject: '' } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'a subject with CR/LF', payload: { side_conversation: { subject: 'Hi\r\nBcc: victim@example.com' } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'a subject over 255 characters', payload: { side_conversation: { subject: 'S'.repeat(256) } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'a subject that is a number', payload: { side_conversation: { subject: 7 } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'a valid state with a bad subject (all or nothing)', payload: { side_conversation: { state: 'closed', subject: '' } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'no side_conversation object', payload: { state: 'closed' }, fields: ['side_conversation'] },
      { name: 'side_conversation is a string', payload: { side_conversation: 'closed' }, fields: ['side_conversation'] },
    ];
    for (const c of BAD_UPDATES) {
      it(`refuses ${c.name} with 422 and changes nothing`, async () => {
        const ticketId = await createTicket();
        const sc = await emailSc(ticketId, 'Stays');
        const before = await counts();
        const res = await put(ticketId, sc.id, c.payload);
        assertInvalid(res, ...c.fields);
        assert.deepEqual(await counts(), before);
        const shown = await showSc(ticketId, sc.id);
        assert.deepEqual(shown.side_conversation, sc);
      });
    }
  });

  // ===========================================================================================
  describe('Show and List', () => {
    it('Show answers the same body on the plural, the singular (reference curl sample) and the .json paths', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Paths');
      const expected = { side_conversation: sc };
      for (const url of [
        `/api/v2/tickets/${ticketId}/side_conversations/${sc.id}`,
        `/api/v2/tickets/${ticketId}/side_conversations/${sc.id}.json`,
        `/api/v2/tickets/${ticketId}/side_conversation/${sc.id}`,
        `/api/v2/tickets/${ticketId}/side_conversation/${sc.id}.json`,
        `/api/v2/tickets/${ticketId}/side_conversations/${sc.id.toUpperCase()}`,
      ]) {
        const res = await get(url);
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
        const body = res.json<ShowBody>();
        if (url.includes(sc.id.toUpperCase())) assert.equal(body.side_conversation.id, sc.id);
        else assert.deepEqual(body, expected, url);
      }
    });

    it('Show ?include=events sideloads a top-level `events` array; without it there is none', async () => {
      const ticketId = await createTicket();
      const created = await createSc(ticketId, { subject: 'Events', body: 'Hello', to: [{ email: 'bob@example.com' }] });
      const id = created.side_conversation.id;
      const plain = await showSc(ticketId, id);
      assert.equal('events' in plain, false);
      for (const url of [`${scPath(ticketId, id)}?include=events`, `/api/v2/tickets/${ticketId}/side_conversation/${id}.json?include=events`]) {
        const res = await get(url);
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json<ShowBody>();
        assert.deepEqual(body.side_conversation, created.side_conversation);
        assert.deepEqual(body.events, [created.event]);
      }
    });

    it('List of a ticket without side conversations', async () => {
      const ticketId = await createTicket();
      const list = await listSc(ticketId);
      assert.deepEqual(list, { side_conversations: [], count: 0, next_page: null, previous_page: null });
    });

    it('List shows only this ticket\'s conversations, in creation order; ?include=events sideloads their events', async () => {
      const ticketId = await createTicket();
      const otherTicket = await createTicket();
      const a = await createSc(ticketId, { subject: 'First', body: 'one', to: [{ email: 'bob@example.com' }] });
      await emailSc(otherTicket, 'Elsewhere');
      const b = await createSc(ticketId, { subject: 'Second', body: 'two', to: [{ slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' }] });
      const closed = await put(ticketId, a.side_conversation.id, { side_conversation: { state: 'closed' } });
      assert.equal(closed.statusCode, 200);
      const closedEvent = closed.json<WriteBody>().event;

      for (const url of [scPath(ticketId), `${scPath(ticketId)}.json`]) {
        const res = await get(url);
        assert.equal(res.statusCode, 200, res.body);
        const list = res.json<ListBody>();
        assert.equal(list.count, 2);
        assert.equal(list.next_page, null);
        assert.equal(list.previous_page, null);
        assert.equal('events' in list, false);
        assert.deepEqual(
          list.side_conversations.map((s) => [s.id, s.subject, s.state]),
          [
            [a.side_conversation.id, 'First', 'closed'],
            [b.side_conversation.id, 'Second', 'open'],
          ],
        );
        assert.deepEqual(item(list.side_conversations, 1), b.side_conversation);
      }

      const withEvents = await listSc(ticketId, '?include=events');
      assert.equal(withEvents.count, 2);
      const events = withEvents.events;
      assert.ok(events);
      assert.equal(events.length, 3);
      assert.deepEqual(
        new Set(events.map((e) => e.id)),
        new Set([a.event?.id, b.event?.id, closedEvent?.id]),
      );
      for (const e of events) assert.ok([a.side_conversation.id, b.side_conversation.id].includes(e.side_conversation_id));
    });
  });

  // ===========================================================================================
  describe('pagination', () => {
    async function fill(ticketId: number, n: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push((await emailSc(ticketId, `Conversation ${i + 1}`)).id);
      return ids;
    }

    it('per_page=2 over 5 conversations: 3 pages linked by absolute next/previous URLs, no duplicates or gaps', async () => {
      const ticketId = await createTicket();
      const ids = await fill(ticketId, 5);
      const seen: string[] = [];
      const pages: ListBody[] = [];
      let url: string | null = `${scPath(ticketId)}.json?per_page=2`;
      while (url !== null && pages.length < 10) {
        const res = await get(url);
        assert.equal(res.statusCode, 200, res.body);
        const page: ListBody = res.json<ListBody>();
        pages.push(page);
        seen.push(...page.side_conversations.map((s) => s.id));
        if (page.next_page === null) url = null;
        else {
          const link: URL = new URL(page.next_page);
          assert.match(page.next_page, /^https?:\/\//);
          url = `${link.pathname}${link.search}`;
        }
      }
      assert.equal(pages.length, 3);
      assert.deepEqual(seen, ids, 'creation order, each exactly once');
      assert.deepEqual(pages.map((p) => p.side_conversations.length), [2, 2, 1]);
      for (const p of pages) assert.equal(p.count, 5);

      const [p1, p2, p3] = [item(pages, 0), item(pages, 1), item(pages, 2)];
      assert.equal(p1.previous_page, null);
      assert.equal(p3.next_page, null);
      for (const [link, page] of [
        [p1.next_page, 2],
        [p2.previous_page, 1],
        [p2.next_page, 3],
        [p3.previous_page, 2],
      ] as const) {
        assert.ok(link);
        const parsed = new URL(link);
        assert.equal(parsed.origin, new URL(item(p1.side_conversations, 0).url).origin);
        assert.match(parsed.pathname, new RegExp(`^/api/v2/tickets/${ticketId}/side_conversations(\\.json)?$`));
        assert.equal(parsed.searchParams.get('page'), String(page));
        assert.equal(parsed.searchParams.get('per_page'), '2');
      }

      // Following previous_page from the last page gives back page 2.
      const back = await get(`${new URL(p3.previous_page!).pathname}${new URL(p3.previous_page!).search}`);
      assert.deepEqual(back.json<ListBody>(), p2);
    });

    it('links keep ?include=events and a page past the end is empty', async () => {
      const ticketId = await createTicket();
      await fill(ticketId, 3);
      const first = await listSc(ticketId, '?per_page=1&include=events');
      assert.equal(first.side_conversations.length, 1);
      assert.equal(first.events?.length, 1);
      assert.equal(item(first.events, 0).side_conversation_id, item(first.side_conversations, 0).id);
      assert.ok(first.next_page);
      assert.equal(new URL(first.next_page).searchParams.get('include'), 'events');

      const beyond = await listSc(ticketId, '?page=9&per_page=2');
      assert.deepEqual(beyond.side_conversations, []);
      assert.equal(beyond.count, 3);
      assert.equal(beyond.next_page, null);
      assert.ok(beyond.previous_page);
    });

    it('per_page above 100 is clamped to 100', async () => {
      const ticketId = await createTicket();
      const ids: string[] = [];
      for (let batch = 0; batch < 11; batch++) {
        const size = batch < 10 ? 10 : 1;
        const results = await Promise.all(
          Array.from({ length: size }, (_, i) =>
            post(ticketId, { message: { subject: `Bulk ${batch}-${i}`, body: 'bulk', to: [{ email: 'bulk@example.com' }] } }),
          ),
        );
        for (const res of results) {
          assert.equal(res.statusCode, 201, res.body);
          ids.push(res.json<WriteBody>().side_conversation.id);
        }
      }
      assert.equal(ids.length, 101);

      const first = await listSc(ticketId, '?per_page=500');
      assert.equal(first.count, 101);
      assert.equal(first.side_conversations.length, 100);
      assert.ok(first.next_page);
      assert.equal(new URL(first.next_page).searchParams.get('per_page'), '100');
      assert.equal(new URL(first.next_page).searchParams.get('page'), '2');
      const second = await listSc(ticketId, '?per_page=500&page=2');
      assert.equal(second.side_conversations.length, 1);
      assert.equal(second.next_page, null);
      assert.ok(second.previous_page);
      assert.equal(new URL(second.previous_page).searchParams.get('per_page'), '100');

      const all = [...first.side_conversations, ...second.side_conversations].map((s) => s.id);
      assert.equal(new Set(all).size, 101);
      assert.deepEqual(new Set(all), new Set(ids));

      // The default page size is the maximum.
      const byDefault = await listSc(ticketId);
      assert.equal(byDefault.side_conversations.length, 100);
      assert.deepEqual(byDefault.side_conversations.map((s) => s.id), first.side_conversations.map((s) => s.id));
    });

    for (const query of ['page=0', 'page=-1', 'page=abc', 'per_page=0', 'per_page=abc']) {
      it(`?${query} is a 400`, async () => {
        const ticketId = await createTicket();
        const res = await get(`${scPath(ticketId)}?${query}`);
        assert.equal(res.statusCode, 400, res.body);
        const body = res.json<ErrorBody>();
        assert.equal(typeof body.error, 'string');
        assert.notEqual(body.error, 'InternalError');
        assert.equal(typeof body.description, 'string');
      });
    }

    it('an offset of 10,000 or more is a 400 InvalidPaginationDepth; just below is allowed', async () => {
      const ticketId = await createTicket();
      await fill(ticketId, 1);
      for (const query of ['page=101&per_page=100', 'page=101&per_page=500', 'page=10001&per_page=1', 'page=5001&per_page=2', 'page=999999999']) {
        const res = await get(`${scPath(ticketId)}?${query}`);
        assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
        const body = res.json<ErrorBody>();
        assert.equal(body.error, 'InvalidPaginationDepth', query);
        assert.equal(typeof body.description, 'string');
      }
      const deepest = await listSc(ticketId, '?page=100&per_page=100');
      assert.deepEqual(deepest.side_conversations, []);
      assert.equal(deepest.count, 1);
      assert.equal(deepest.next_page, null);
      assert.ok(deepest.previous_page);
      const lastSingle = await listSc(ticketId, '?page=10000&per_page=1');
      assert.deepEqual(lastSingle.side_conversations, []);
    });
  });

  // ===========================================================================================
  describe('not found (404 RecordNotFound)', () => {
    it('an unknown ticket, on all four endpoints; a Create there writes nothing', async () => {
      const sc = await emailSc(await createTicket());
      const missing = 987654;
      assertNotFound(await get(scPath(missing)));
      assertNotFound(await get(scPath(missing, sc.id)));
      const before = await counts();
      assertNotFound(await post(missing, REFERENCE_CREATE_BODY));
      assertNotFound(await put(missing, sc.id, { side_conversation: { state: 'closed' } }));
      assert.deepEqual(await counts(), before);
    });

    it('a ticket id that is not a positive integer', async () => {
      for (const ticketId of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
        assertNotFound(await get(scPath(ticketId)));
        const before = await counts();
        assertNotFound(await post(ticketId, REFERENCE_CREATE_BODY));
        assert.deepEqual(await counts(), before);
      }
    });

    it('an unknown side conversation id (a valid UUID)', async () => {
      const ticketId = await createTicket();
      const id = '00000000-0000-4000-8000-000000000000';
      assertNotFound(await get(scPath(ticketId, id)));
      assertNotFound(await get(`/api/v2/tickets/${ticketId}/side_conversation/${id}.json`));
      const before = await counts();
      assertNotFound(await put(ticketId, id, { side_conversation: { state: 'closed' } }));
      assert.deepEqual(await counts(), before);
    });

    it('a side conversation asked for under another ticket; an Update there changes nothing', async () => {
      const ticketId = await createTicket();
      const otherTicket = await createTicket();
      const sc = await emailSc(ticketId, 'Belongs to the first');
      assertNotFound(await get(scPath(otherTicket, sc.id)));
      assertNotFound(await get(`${scPath(otherTicket, sc.id)}?include=events`));
      const before = await counts();
      assertNotFound(await put(otherTicket, sc.id, { side_conversation: { state: 'closed', subject: 'Hijacked' } }));
      assert.deepEqual(await counts(), before);
      assert.deepEqual((await showSc(ticketId, sc.id)).side_conversation, sc);
      assert.equal((await listSc(otherTicket)).count, 0);
    });

    it('a side conversation id that is not a UUID', async () => {
      const ticketId = await createTicket();
      await emailSc(ticketId);
      for (const id of ['not-a-uuid', '123', "1' or '1'='1", '8566255a-ece5-11e8-857d-493066fa7b1', '8566255a-ece5-11e8-857d-493066fa7b17x']) {
        const encoded = encodeURIComponent(id);
        assertNotFound(await get(scPath(ticketId, encoded)));
        const before = await counts();
        assertNotFound(await put(ticketId, encoded, { side_conversation: { state: 'closed' } }));
        assert.deepEqual(await counts(), before);
      }
    });

    it('a ticket and side conversation of another account (acme) are invisible both ways', async () => {
      const ticketId = await createTicket('Ours');
      const ours = await emailSc(ticketId, 'Our secret');
      const acmeTicket = await createTicket('Theirs', acme.admin.auth, ACME);
      const acmeCreate = await post(acmeTicket, { message: { subject: 'Acme secret', body: 'x', to: [{ email: 'bob@example.com' }] } }, acme.admin.auth, ACME);
      assert.equal(acmeCreate.statusCode, 201, acmeCreate.body);
      const theirs = acmeCreate.json<WriteBody>().side_conversation;
      assert.match(theirs.url, /^http:\/\/acme\.localhost(:\d+)?\/api\/v2\/tickets\//);
      assert.deepEqual(item(theirs.participants, 0), { user_id: acme.admin.id, name: 'acme admin', email: acme.admin.email });

      // Acme's admin on acme's host cannot see or change ours, even under a ticket id acme also has.
      assertNotFound(await get(scPath(ticketId, ours.id), acme.admin.auth, ACME));
      assertNotFound(await get(scPath(acmeTicket, ours.id), acme.admin.auth, ACME));
      const before = await counts();
      assertNotFound(await put(acmeTicket, ours.id, { side_conversation: { subject: 'Pwned' } }, acme.admin.auth, ACME));
      assertNotFound(await put(ticketId, ours.id, { side_conversation: { subject: 'Pwned' } }, acme.admin.auth, ACME));
      assert.deepEqual(await counts(), before);
      const acmeList = await get(scPath(acmeTicket), acme.admin.auth, ACME);
      assert.equal(acmeList.statusCode, 200, acmeList.body);
      assert.deepEqual(acmeList.json<ListBody>().side_conversations.map((s) => s.id), [theirs.id]);

      // And we cannot see theirs.
      assertNotFound(await get(scPath(acmeTicket, theirs.id)));
      assertNotFound(await get(scPath(ticketId, theirs.id)));
      assertNotFound(await put(acmeTicket, theirs.id, { side_conversation: { state: 'closed' } }));
      assert.deepEqual((await showSc(ticketId, ours.id)).side_conversation, ours);
      const stillTheirs = await get(scPath(acmeTicket, theirs.id), acme.admin.auth, ACME);
      assert.equal(stillTheirs.json<ShowBody>().side_conversation.state, 'open');
    });

    it('users and groups of another account cannot be named as participants', async () => {
      const ticketId = await createTicket();
      await refusedCreate(ticketId, { message: { subject: 'x', body: 'x', to: [{ user_id: acmeAgent.id }] } }, 'message.to[0].user_id');
      await refusedCreate(ticketId, { message: { subject: 'x', body: 'x', to: [{ support_group_id: acmeGroup.id }] } }, 'message.to[0].support_group_id');
      await refusedCreate(
        ticketId,
        { message: { subject: 'x', body: 'x', to: [{ support_group_id: group.id, support_agent_id: acmeAgent.id }] } },
        'message.to[0].support_agent_id',
      );
      // An address that belongs to a user of another account is just an outside address here.
      const body = await createSc(ticketId, { subject: 'x', body: 'x', to: [{ email: acmeAgent.email }] });
      assert.deepEqual(item(body.side_conversation.participants, 1), { user_id: null, name: null, email: acmeAgent.email });
    });
  });

  // ===========================================================================================
  describe('authentication and authorisation', () => {
    async function fourRequests(ticketId: number, scId: string, auth: string | null, headers?: Record<string, string>) {
      const opts = { auth, ...(headers ? { headers } : {}) };
      return [
        await t.request({ method: 'GET', url: scPath(ticketId), ...opts }),
        await t.request({ method: 'GET', url: scPath(ticketId, scId), ...opts }),
        await t.request({ method: 'POST', url: scPath(ticketId), payload: REFERENCE_CREATE_BODY, ...opts }),
        await t.request({ method: 'PUT', url: scPath(ticketId, scId), payload: { side_conversation: { state: 'closed', subject: 'Changed' } }, ...opts }),
      ];
    }

    it('401 without credentials on all four endpoints, and nothing is written', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Untouched');
      const before = await counts();
      for (const res of await fourRequests(ticketId, sc.id, null)) {
        assertUnauthorized(res);
        assert.ok(res.headers['www-authenticate']);
      }
      assert.deepEqual(await counts(), before);
      assert.deepEqual((await showSc(ticketId, sc.id)).side_conversation, sc);
    });

    it('401 with wrong credentials of every kind, and nothing is written', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Untouched');
      const before = await counts();
      const bad = [
        basic(ADMIN_EMAIL, 'wrong password'),
        basic('nobody@example.com', 'whatever'),
        basic(ADMIN_EMAIL, ''),
        basic(`${ADMIN_EMAIL}/token`, 'not-a-token'),
        basic(`${agent.email}/token`, agent.password),
        'Basic !!!not-base64!!!',
        'Basic',
        'Bearer not-a-token',
        'Digest username="admin"',
        basic(acme.admin.email, acme.admin.password), // right password, wrong account
      ];
      for (const auth of bad) {
        for (const res of await fourRequests(ticketId, sc.id, auth)) assertUnauthorized(res);
      }
      assert.deepEqual(await counts(), before);
      assert.deepEqual((await showSc(ticketId, sc.id)).side_conversation, sc);
    });

    it('credentials of our account do not work on acme\'s host', async () => {
      const acmeTicket = await createTicket('Acme', acme.admin.auth, ACME);
      assertUnauthorized(await get(scPath(acmeTicket), t.admin.auth, ACME));
      assertUnauthorized(await post(acmeTicket, REFERENCE_CREATE_BODY, agent.auth, ACME));
    });

    it('403 Forbidden for an end-user on all four endpoints, and nothing is written', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Agents only');
      const before = await counts();
      for (const res of await fourRequests(ticketId, sc.id, endUser.auth)) assertForbidden(res);
      // Also for things that do not exist: the end-user learns nothing.
      assertForbidden(await get(scPath(987654), endUser.auth));
      assertForbidden(await get(scPath(ticketId, '00000000-0000-4000-8000-000000000000'), endUser.auth));
      assert.deepEqual(await counts(), before);
      assert.deepEqual((await showSc(ticketId, sc.id)).side_conversation, sc);
    });

    it('an agent (not an admin) can list, show, create and update; the agent is the actor and sender', async () => {
      const ticketId = await createTicket('Agent ticket');
      const agentActor = { user_id: agent.id, name: AGENT_NAME, email: agent.email };
      const created = await post(ticketId, REFERENCE_CREATE_BODY, agent.auth);
      assert.equal(created.statusCode, 201, created.body);
      const body = created.json<WriteBody>();
      assert.deepEqual(body.event?.actor, agentActor);
      assert.deepEqual(body.event?.message?.from, agentActor);
      assert.deepEqual(body.side_conversation.participants, [agentActor, { user_id: null, name: null, email: 'someone@example.com' }]);
      const id = body.side_conversation.id;

      const list = await get(scPath(ticketId), agent.auth);
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual(list.json<ListBody>().side_conversations.map((s) => s.id), [id]);
      const shown = await get(`${scPath(ticketId, id)}?include=events`, agent.auth);
      assert.equal(shown.statusCode, 200, shown.body);
      assert.deepEqual(shown.json<ShowBody>().side_conversation, body.side_conversation);
      assert.equal(shown.json<ShowBody>().events?.length, 1);

      const updated = await put(ticketId, id, { side_conversation: { state: 'closed' } }, agent.auth);
      assert.equal(updated.statusCode, 200, updated.body);
      assert.deepEqual(updated.json<WriteBody>().updates, { state: 'closed' });
      assert.deepEqual(updated.json<WriteBody>().event?.actor, agentActor);
    });

    it('a deactivated agent is refused once the cached user is re-read (within a second), even right after a cached request', async () => {
      const ticketId = await createTicket();
      const leaver = await t.createUser('agent', 'Leaving Agent');
      await addMember(leaver.id, group.id);
      const ok = await get(scPath(ticketId), leaver.auth);
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json<ListBody>().count, 0);
      await t.db.updateTable('users').set({ active: false }).where('id', '=', leaver.id).execute();
      // Changed behind the server's back (SQL): a cached user row is trusted for up to a second.
      await new Promise((resolve) => setTimeout(resolve, 1_050));
      const before = await counts();
      assertUnauthorized(await get(scPath(ticketId), leaver.auth));
      assertUnauthorized(await post(ticketId, REFERENCE_CREATE_BODY, leaver.auth));
      assert.deepEqual(await counts(), before);
      // Nor can a deactivated agent (still a group member) be named as the assignee of a child ticket.
      await refusedCreate(
        ticketId,
        { message: { subject: 'x', body: 'x', to: [{ support_group_id: group.id, support_agent_id: leaver.id }] } },
        'message.to[0].support_agent_id',
      );
    });

    it('API token authentication (email/token:TOKEN) works, is bound to its user, and stops on revocation', async () => {
      const created = await t.request({ method: 'POST', url: '/api/v2/api_tokens', payload: { api_token: { description: 'side conversation tests' } } });
      assert.equal(created.statusCode, 201, created.body);
      const token = created.json<ApiTokenBody>().api_token;
      assert.ok(token.token);
      assert.equal(token.user_id, t.admin.id);
      const tokenAuth = basic(`${ADMIN_EMAIL}/token`, token.token);

      const ticketId = await createTicket('Token ticket', tokenAuth);
      const res = await post(ticketId, REFERENCE_CREATE_BODY, tokenAuth);
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json<WriteBody>();
      assert.deepEqual(body.event?.actor, adminActor);
      const id = body.side_conversation.id;
      const list = await get(scPath(ticketId), tokenAuth);
      assert.equal(list.statusCode, 200);
      assert.equal(list.json<ListBody>().count, 1);
      const shown = await get(scPath(ticketId, id), tokenAuth);
      assert.equal(shown.json<ShowBody>().side_conversation.id, id);
      const updated = await put(ticketId, id, { side_conversation: { subject: 'Via token' } }, tokenAuth);
      assert.equal(updated.statusCode, 200, updated.body);
      assert.deepEqual(updated.json<WriteBody>().updates, { subject: 'Via token' });

      // The token is the admin's: it does not work with another user's email.
      assertUnauthorized(await get(scPath(ticketId), basic(`${agent.email}/token`, token.token)));

      // An agent's token acts as the agent.
      const agentToken = await t.request({ method: 'POST', url: '/api/v2/api_tokens', payload: { api_token: { description: 'agent', user_id: agent.id } } });
      assert.equal(agentToken.statusCode, 201, agentToken.body);
      const agentTokenValue = agentToken.json<ApiTokenBody>().api_token.token;
      assert.ok(agentTokenValue);
      const byAgent = await post(ticketId, REFERENCE_CREATE_BODY, basic(`${agent.email}/token`, agentTokenValue));
      assert.equal(byAgent.statusCode, 201, byAgent.body);
      assert.deepEqual(byAgent.json<WriteBody>().event?.actor, { user_id: agent.id, name: AGENT_NAME, email: agent.email });

      // Revoked: refused at once.
      const revoked = await t.request({ method: 'DELETE', url: `/api/v2/api_tokens/${token.id}` });
      assert.equal(revoked.statusCode, 204, revoked.body);
      const before = await counts();
      assertUnauthorized(await get(scPath(ticketId), tokenAuth));
      assertUnauthorized(await post(ticketId, REFERENCE_CREATE_BODY, tokenAuth));
      assert.deepEqual(await counts(), before);
    });

    it('`from` naming another user is a 422; naming yourself is fine; a display name alone cannot spoof the sender', async () => {
      const ticketId = await createTicket();
      const base = { subject: 'From', body: 'x', to: [{ email: 'someone@example.com' }] };
      for (const from of [{ user_id: agent.id }, { email: agent.email }, { user_id: t.admin.id, email: agent.email }, { email: 'ceo@example.com', name: 'The CEO' }]) {
        await refusedCreate(ticketId, { message: { ...base, from } }, 'message.from');
      }
      // An agent cannot send as the admin either.
      const before = await counts();
      const asAdmin = await post(ticketId, { message: { ...base, from: { user_id: t.admin.id } } }, agent.auth);
      assertInvalid(asAdmin, 'message.from');
      assert.deepEqual(await counts(), before);

      const self = await createSc(ticketId, { ...base, from: { user_id: t.admin.id, email: ADMIN_EMAIL.toUpperCase() } });
      assert.deepEqual(self.event?.message?.from, adminActor);
      const nameOnly = await post(ticketId, { message: { ...base, from: { name: 'The CEO' } } });
      if (nameOnly.statusCode === 201) {
        const body = nameOnly.json<WriteBody>();
        assert.deepEqual(body.event?.message?.from, adminActor, 'the sender stays the authenticated agent');
        assert.deepEqual(item(body.side_conversation.participants, 0), adminActor);
      } else {
        assertInvalid(nameOnly, 'message.from');
      }
    });
  });

  // ===========================================================================================
  describe('concurrency', () => {
    it('10 concurrent creates on one ticket all succeed and the list shows 10 distinct conversations', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          post(ticketId, { message: { subject: `Concurrent ${i}`, body: `Message ${i}`, to: [{ email: `c${i}@example.com` }] } }),
        ),
      );
      const ids = results.map((res) => {
        assert.equal(res.statusCode, 201, res.body);
        const body = res.json<WriteBody>();
        assert.equal(body.event?.type, 'create');
        return body.side_conversation.id;
      });
      assert.equal(new Set(ids).size, 10);
      const list = await listSc(ticketId, '?include=events');
      assert.equal(list.count, 10);
      assert.equal(list.side_conversations.length, 10);
      assert.deepEqual(new Set(list.side_conversations.map((s) => s.id)), new Set(ids));
      assert.deepEqual(
        new Set(list.side_conversations.map((s) => s.subject)),
        new Set(Array.from({ length: 10 }, (_, i) => `Concurrent ${i}`)),
      );
      assert.equal(list.events?.length, 10);
      const now = await counts();
      assert.equal(now.side_conversations, before.side_conversations + 10);
      assert.equal(now.side_conversation_events, before.side_conversation_events + 10);
      assert.equal(now.side_conversation_participants, before.side_conversation_participants + 20);
      assert.equal(now.outbox, before.outbox + 10);
      // The list order is stable: the same twice, and pages of 3 add up to it.
      const again = await listSc(ticketId);
      assert.deepEqual(again.side_conversations.map((s) => s.id), list.side_conversations.map((s) => s.id));
      const paged: string[] = [];
      for (let page = 1; page <= 4; page++) paged.push(...(await listSc(ticketId, `?per_page=3&page=${page}`)).side_conversations.map((s) => s.id));
      assert.deepEqual(paged, list.side_conversations.map((s) => s.id));
    });

    it('8 concurrent closes of one conversation record exactly one update event', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId);
      const before = await countRows(t.db, 'side_conversation_events');
      const results = await Promise.all(Array.from({ length: 8 }, () => put(ticketId, sc.id, { side_conversation: { state: 'closed' } })));
      const bodies = results.map((res) => {
        assert.equal(res.statusCode, 200, res.body);
        return res.json<WriteBody>();
      });
      const changed = bodies.filter((b) => b.event !== null);
      assert.equal(changed.length, 1, 'exactly one request changed the state');
      assert.deepEqual(item(changed, 0).updates, { state: 'closed' });
      for (const b of bodies) {
        assert.equal(b.side_conversation.state, 'closed');
        if (b.event === null) assert.deepEqual(b.updates, {});
      }
      assert.equal(await countRows(t.db, 'side_conversation_events'), before + 1);
    });
  });
});
