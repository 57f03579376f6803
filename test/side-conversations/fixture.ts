/**
 * The world of the side conversations API tests (test/side-conversations/*.test.ts): one app and
 * store per test file, two accounts, agents, groups, Slack and Teams connected, and the helpers
 * the tests call. Each file calls useSideConversationsApp() inside its describe; the state below
 * is set by its before() and read through ES module live bindings.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { ADMIN_EMAIL, countRows, startTestApp, type TestApp, type TestUser } from '../helpers/app.js';
import { FORBIDDEN, NOT_FOUND, UNAUTHORIZED } from '../helpers/api.js';
import type { ErrorBody, ListBody, ShowBody, SideConversation, ValidationErrorBody, WriteBody } from '../helpers/api-types.js';

// ---------------------------------------------------------------------------------------------
// Response shapes (loosely typed: only what the tests read; the shared ones in helpers/api-types.ts)
// ---------------------------------------------------------------------------------------------

export interface TicketBody {
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

export interface CommentsBody {
  comments: Array<{ body: string; html_body: string; author_id: number }>;
  count: number;
}

export interface GroupBody {
  group: { id: number; name: string };
}

export interface ApiTokenBody {
  api_token: { id: number; user_id: number; token?: string };
}

// ---------------------------------------------------------------------------------------------
// Constants from the reference and the API notes
// ---------------------------------------------------------------------------------------------

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Side conversations: 2018-11-20T16:58:36.453+00:00 */
export const SC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;
/** Events: 2017-10-27T17:56:16.678Z */
export const EVENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;


/** The reference's Create "Example body", with the address its Java sample spells out. */
export const REFERENCE_CREATE_BODY = {
  message: {
    body: 'The smoke is very colorful.',
    subject: 'My printer is on fire!',
    to: [{ email: 'someone@example.com' }],
  },
};

/** The same body exactly as the obfuscated reference text prints it. */
export const OBFUSCATED_CREATE_BODY = {
  message: {
    body: 'The smoke is very colorful.',
    subject: 'My printer is on fire!',
    to: [{ email: '[email protected]' }],
  },
};

/** The reference's Update "Example body": a full side conversation object, read-only fields and all. */
export const REFERENCE_UPDATE_JSON = `{
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
export const REFERENCE_SC_ID = '8566255a-ece5-11e8-857d-493066fa7b17';

export const UNICODE_SUBJECT =
  '🔥 Drucker brennt — 👩‍👩‍👧‍👦 \u200Fשלום עולם\u200F مرحبا بالعالم \u202Bembedded\u202C e\u0301 𝕳𝖊𝖑𝖑𝖔 ﷽ 漢字 🏳️‍🌈';
export const UNICODE_BODY = 'Ça brûle 🔥 — ‏الطابعة تحترق‏ — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 — 👍🏽';

export const COUNTED = [
  'side_conversations',
  'side_conversation_events',
  'side_conversation_participants',
  'outbox',
  'tickets',
  'ticket_comments',
] as const;
export type Counts = Record<(typeof COUNTED)[number], number>;

/** Schema errors name array items `to.0.user_id`, the service `to[0].user_id`: compare both alike. */
export function normaliseField(field: string): string {
  return field.replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}

export function item<T>(list: readonly T[] | undefined, index: number): T {
  assert.ok(list, 'expected a list');
  const value = list[index];
  assert.ok(value !== undefined, `expected an item at index ${index} of ${list.length}`);
  return value;
}

export function assertSideConversationShape(sc: SideConversation, ticketId: number): void {
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

export let t: TestApp;
export let acme: { accountId: number; admin: TestUser };
export let agent: TestUser;
export let otherAgent: TestUser;
export let endUser: TestUser;
export let acmeAgent: TestUser;
export let group: { id: number; name: string };
export let emptyGroup: { id: number; name: string };
export let acmeGroup: { id: number; name: string };
export let adminActor: { user_id: number; name: string; email: string };

export const AGENT_NAME = 'Agent Smith';
export const OTHER_AGENT_NAME = 'Agent Jones';

export const ACME = { host: 'acme.localhost' };

// --- helpers -------------------------------------------------------------------------------

export async function counts(): Promise<Counts> {
  const out = {} as Counts;
  for (const table of COUNTED) out[table] = await countRows(t.db, table);
  return out;
}

export async function createTicket(subject = 'Printer trouble', auth?: string, headers?: Record<string, string>): Promise<number> {
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

export async function createGroup(name: string, auth?: string, headers?: Record<string, string>): Promise<{ id: number; name: string }> {
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

export async function addMember(userId: number, groupId: number, auth?: string, headers?: Record<string, string>): Promise<void> {
  const res = await t.request({
    method: 'POST',
    url: '/api/v2/group_memberships',
    payload: { group_membership: { user_id: userId, group_id: groupId } },
    ...(auth ? { auth } : {}),
    ...(headers ? { headers } : {}),
  });
  assert.equal(res.statusCode, 201, res.body);
}

export function scPath(ticketId: number | string, id?: string): string {
  return `/api/v2/tickets/${ticketId}/side_conversations${id === undefined ? '' : `/${id}`}`;
}

export function post(ticketId: number | string, payload: unknown, auth?: string, headers?: Record<string, string>): Promise<LightMyRequestResponse> {
  return t.request({
    method: 'POST',
    url: scPath(ticketId),
    payload: payload as object,
    ...(auth ? { auth } : {}),
    ...(headers ? { headers } : {}),
  });
}

export function put(ticketId: number | string, id: string, payload: unknown, auth?: string, headers?: Record<string, string>): Promise<LightMyRequestResponse> {
  return t.request({
    method: 'PUT',
    url: scPath(ticketId, id),
    payload: payload as object,
    ...(auth ? { auth } : {}),
    ...(headers ? { headers } : {}),
  });
}

export function get(url: string, auth?: string, headers?: Record<string, string>): Promise<LightMyRequestResponse> {
  return t.request({ method: 'GET', url, ...(auth ? { auth } : {}), ...(headers ? { headers } : {}) });
}

export async function createSc(ticketId: number, message: Record<string, unknown>, extra: Record<string, unknown> = {}, auth?: string): Promise<WriteBody> {
  const res = await post(ticketId, { message, ...extra }, auth);
  assert.equal(res.statusCode, 201, res.body);
  const body = res.json<WriteBody>();
  assertSideConversationShape(body.side_conversation, ticketId);
  return body;
}

export async function emailSc(ticketId: number, subject = 'Quick question', auth?: string): Promise<SideConversation> {
  return (await createSc(ticketId, { subject, body: 'Can you help?', to: [{ email: 'vendor@example.com' }] }, {}, auth)).side_conversation;
}

export async function showSc(ticketId: number, id: string, query = ''): Promise<ShowBody> {
  const res = await get(`${scPath(ticketId, id)}${query}`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<ShowBody>();
}

export async function listSc(ticketId: number, query = ''): Promise<ListBody> {
  const res = await get(`${scPath(ticketId)}${query}`);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<ListBody>();
}

/** A 422 in Zendesk's shape, naming (at least) `field` in its details. */
export function assertInvalid(res: LightMyRequestResponse, ...fields: string[]): ValidationErrorBody {
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

export function detailsOf(body: ValidationErrorBody, field: string): Array<{ description: string; error?: string }> {
  const key = Object.keys(body.details).find((k) => normaliseField(k) === normaliseField(field));
  assert.ok(key, `no details on ${field}: ${JSON.stringify(body.details)}`);
  return body.details[key] ?? [];
}

export function assertNotFound(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 404, res.body);
  assert.deepEqual(res.json<ErrorBody>(), NOT_FOUND);
}

export function assertUnauthorized(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 401, res.body);
  assert.deepEqual(res.json<ErrorBody>(), UNAUTHORIZED);
}

export function assertForbidden(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 403, res.body);
  assert.deepEqual(res.json<typeof FORBIDDEN>(), FORBIDDEN);
}

/** Sends a request that must be refused with a 422 on `field`, and checks nothing was written. */
export async function refusedCreate(ticketId: number, payload: unknown, ...fields: string[]): Promise<ValidationErrorBody> {
  const before = await counts();
  const res = await post(ticketId, payload);
  const body = assertInvalid(res, ...fields);
  assert.deepEqual(await counts(), before, 'a refused create must write nothing');
  return body;
}

export async function outboxRows(sideConversationId: string) {
  return t.db
    .selectFrom('outbox')
    .select(['channel', 'event_id', 'status', 'account_id'])
    .where('side_conversation_id', '=', sideConversationId)
    .execute();
}

/** Registers the before() and after() of the file's app: call it inside the top describe. */
export function useSideConversationsApp(): void {
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
}
