/**
 * Zendesk's Webhooks API and the delivery of side conversation events to webhooks, against a
 * loopback receiver (test/helpers/webhook-receiver.ts): the API (create, list, show, update,
 * patch, delete, validation, admins only, accounts kept apart), Zendesk's signature checked with
 * Zendesk's own recipe, retries with one invocation id, Retry-After, the circuit breaker, every
 * road into the store (the API, inbound email, a delivery failing), and the address guard.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { Relay, type RelayOptions } from '../../src/outbox/relay.js';
import { SecretBox } from '../../src/integrations/secret-box.js';
import { createWebhookChannel } from '../../src/webhooks/deliver.js';
import type { CircuitPolicy } from '../../src/webhooks/repo.js';
import { WebhookSecrets } from '../../src/webhooks/secrets.js';
import { retryAfterMs } from '../../src/webhooks/send.js';
import { countRows, STORE_KIND, startTestApp, type TestApp, type TestUser } from '../helpers/app.js';
import { assertValidation, eventsOf, expectStatus, FORBIDDEN, NOT_FOUND, pathOf, showSc, UNAUTHORIZED } from '../helpers/api.js';
import type { WriteBody } from '../helpers/api-types.js';
import { listenLoopback, readBody } from '../helpers/loopback-http.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const INBOUND_DOMAIN = 'inbound.test';
const INBOUND_SECRET = 'a-long-shared-secret-for-webhooks';
const BASE_URL = 'https://help.example.test';
const CREATED = 'zen:event-type:side_conversation.created';
const REPLIED = 'zen:event-type:side_conversation.replied';
const STATE_CHANGED = 'zen:event-type:side_conversation.state_changed';
const DELIVERY_FAILED = 'zen:event-type:side_conversation.delivery_failed';

interface WebhookBody {
  id: string;
  name: string;
  description?: string;
  endpoint: string;
  http_method: string;
  request_format: string;
  status: string;
  subscriptions: string[];
  authentication?: { type: string; add_position: string; data?: Record<string, string> };
  custom_headers: Record<string, string>;
  created_at: string;
  created_by: string;
  updated_at: string;
  updated_by: string;
}
interface Page {
  meta: { has_more: boolean; after_cursor: string | null; before_cursor: string | null };
  links: { next: string | null; prev: string | null };
}
interface Invocation {
  id: string;
  status: string;
  status_code: number | null;
  latest_completed_at: string | null;
  event_type: string;
}
interface Attempt {
  id: string;
  invocation_id: string;
  status: string;
  duration_ms: number;
  request: { headers: Array<{ key: string; value: string }>; payload: string };
  response: { headers: Array<{ key: string; value: string }>; payload: string; status: number | null };
  error: string | null;
}
interface Envelope {
  id: string;
  type: string;
  account_id: number;
  time: string;
  subject: string;
  detail: { id: string; ticket_id: number; subject: string; state: string; url: string };
  event: { id: string; type: string; via: string; side_conversation_id: string; message: { body: string; deliveries: Array<{ recipient: string; status: string }> } | null; updates: Record<string, unknown> };
}

const silentLogger = { info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let t: TestApp;
let box: SecretBox;
let receiver: WebhookReceiver;
let agent: TestUser;
let other: { accountId: number; admin: TestUser };
const OTHER_HOST = 'otherco.localhost';

before(async () => {
  const encryptionKey = randomBytes(32).toString('hex');
  box = SecretBox.fromEnv(encryptionKey)!;
  t = await startTestApp({ encryptionKey, webhookAllowPrivate: true, inboundDomain: INBOUND_DOMAIN, inboundEmailSecret: INBOUND_SECRET, inboundMaxBytes: 1_000_000 });
  // Before the first request: the app caches the list of accounts briefly.
  other = await t.createAccount('otherco');
  agent = await t.createUser('agent', 'Agent Webhook');
  receiver = await startWebhookReceiver();
});

after(async () => {
  await receiver.close();
  await t.close();
});

/** Rows earlier tests left are settled, so each test's relay sees only its own. */
afterEach(async () => {
  await t.db.updateTable('outbox').set({ status: 'failed', last_error: 'left behind by an earlier test', claimed_until: null }).where('status', '=', 'pending').execute();
  await t.db.updateTable('webhooks').set({ status: 'inactive' }).execute();
});

function webhookRelay(options: Partial<RelayOptions> & { allowPrivate?: boolean; circuit?: CircuitPolicy; timeoutMs?: number; db?: TestApp['db'] } = {}): Relay {
  const { allowPrivate = true, circuit, timeoutMs, db = t.db, ...relayOptions } = options;
  return new Relay({
    db,
    logger: silentLogger,
    baseBackoffMs: 20,
    random: () => 0,
    channels: {
      webhook: createWebhookChannel({
        db,
        secrets: new WebhookSecrets(db, box),
        allowPrivate,
        baseUrl: BASE_URL,
        ...(circuit ? { circuit } : {}),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      }),
    },
    ...relayOptions,
  });
}

/** Runs relay passes until `done` holds (rows backing off become due in between). */
async function runUntil(relay: Relay, what: string, done: () => Promise<boolean> | boolean, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    await relay.runOnce();
    if (await done()) return;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(25);
  }
}

function webhookInput(path: string, overrides: Record<string, unknown> = {}) {
  return {
    name: `Receiver ${path}`,
    endpoint: `${receiver.url}${path}`,
    http_method: 'POST',
    request_format: 'json',
    status: 'active',
    subscriptions: [CREATED, REPLIED],
    ...overrides,
  };
}

async function createWebhook(path: string, overrides: Record<string, unknown> = {}, as?: { auth: string; host: string }): Promise<WebhookBody> {
  const res = await t.request({ method: 'POST', url: '/api/v2/webhooks', payload: { webhook: webhookInput(path, overrides) }, ...(as ? { auth: as.auth, headers: { host: as.host } } : {}) });
  expectStatus(res, 201);
  return res.json<{ webhook: WebhookBody }>().webhook;
}

async function signingSecretOf(id: string): Promise<string> {
  const res = await t.request({ method: 'GET', url: `/api/v2/webhooks/${id}/signing_secret` });
  expectStatus(res, 200);
  const body = res.json<{ signing_secret: { algorithm: string; secret: string } }>();
  assert.equal(body.signing_secret.algorithm, 'SHA256');
  return body.signing_secret.secret;
}

async function newTicket(): Promise<number> {
  const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Printer', comment: { body: 'It smokes.' } } } });
  expectStatus(res, 201);
  return res.json<{ ticket: { id: number } }>().ticket.id;
}

async function emailConversation(ticketId: number, body = 'Status?'): Promise<WriteBody> {
  const res = await t.request({
    method: 'POST',
    url: `/api/v2/tickets/${ticketId}/side_conversations`,
    payload: { message: { subject: 'Fuser', body, to: [{ email: 'vendor@example.com', name: 'Vendor' }] } },
    auth: agent.auth,
  });
  expectStatus(res, 201);
  return res.json<WriteBody>();
}

async function invocationsOf(webhookId: string, query = ''): Promise<Invocation[]> {
  const res = await t.request({ method: 'GET', url: `/api/v2/webhooks/${webhookId}/invocations${query}` });
  expectStatus(res, 200);
  return res.json<{ invocations: Invocation[] }>().invocations;
}

async function attemptsOf(webhookId: string, invocationId: string): Promise<Attempt[]> {
  const res = await t.request({ method: 'GET', url: `/api/v2/webhooks/${webhookId}/invocations/${invocationId}/attempts` });
  expectStatus(res, 200);
  return res.json<{ attempts: Attempt[] }>().attempts;
}

/** Zendesk's documented check, computed here on its own: base64(HMAC-SHA256(secret, timestamp + body)). */
function zendeskSignatureValid(secret: string, request: { headers: Record<string, string>; body: string }): boolean {
  const timestamp = request.headers['x-zendesk-webhook-signature-timestamp'];
  const signature = request.headers['x-zendesk-webhook-signature'];
  if (!timestamp || !signature) return false;
  return createHmac('sha256', secret).update(timestamp + request.body).digest('base64') === signature;
}

// ---------------------------------------------------------------------------------------------

describe(`webhooks API (${STORE_KIND})`, () => {
  it('creates a webhook (201, Zendesk fields, a ULID id), shows it, and never shows its credentials', async () => {
    const created = await createWebhook('/crud', {
      description: 'Copies replies',
      authentication: { type: 'basic_auth', data: { username: 'crm-user', password: 'crm-password-123' }, add_position: 'header' },
      custom_headers: { 'X-Source': 'sideline' },
    });
    assert.match(created.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(created.name, 'Receiver /crud');
    assert.equal(created.description, 'Copies replies');
    assert.equal(created.endpoint, `${receiver.url}/crud`);
    assert.equal(created.http_method, 'POST');
    assert.equal(created.request_format, 'json');
    assert.equal(created.status, 'active');
    assert.deepEqual(created.subscriptions, [CREATED, REPLIED]);
    assert.deepEqual(created.authentication, { type: 'basic_auth', add_position: 'header', data: { username: 'crm-user' } });
    assert.deepEqual(created.custom_headers, { 'X-Source': 'sideline' });
    assert.equal(created.created_by, String(t.admin.id));
    assert.match(created.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

    const shown = await t.request({ method: 'GET', url: `/api/v2/webhooks/${created.id}.json` });
    expectStatus(shown, 200);
    assert.deepEqual(shown.json<{ webhook: WebhookBody }>().webhook, created);
    for (const body of [shown.body, (await t.request({ method: 'GET', url: '/api/v2/webhooks' })).body]) {
      assert.doesNotMatch(body, /crm-password-123/);
      assert.doesNotMatch(body, /signing_secret/);
    }
    // Sealed at rest: neither the password nor the signing secret is in the row as written.
    const row = await t.db.selectFrom('webhooks').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    const secret = await signingSecretOf(created.id);
    assert.ok(!JSON.stringify(row).includes('crm-password-123'));
    assert.ok(!JSON.stringify(row).includes(secret));
    assert.match(row.signing_secret_sealed, /^env:v1\./, 'sealed with SIDELINE_ENCRYPTION_KEY when it is set');
  });

  it('PUT (204) replaces the webhook and keeps a credential sent back as GET shows it; PATCH (204) merges; DELETE (204) removes', async () => {
    const created = await createWebhook('/put', { authentication: { type: 'bearer_token', data: { token: 'tok-original' } }, custom_headers: { 'X-One': '1', 'X-Two': '2' } });
    const shown = created;
    const put = await t.request({
      method: 'PUT',
      url: `/api/v2/webhooks/${created.id}`,
      payload: { webhook: { ...shown, name: 'Renamed', subscriptions: [STATE_CHANGED] } },
    });
    expectStatus(put, 204);
    assert.equal(put.body, '');
    let now = (await t.request({ method: 'GET', url: `/api/v2/webhooks/${created.id}` })).json<{ webhook: WebhookBody }>().webhook;
    assert.equal(now.name, 'Renamed');
    assert.deepEqual(now.subscriptions, [STATE_CHANGED]);
    assert.deepEqual(now.authentication, { type: 'bearer_token', add_position: 'header' });

    // The kept token is still the one sent: a test of the saved webhook carries it.
    const tested = await t.request({ method: 'POST', url: `/api/v2/webhooks/test?webhook_id=${created.id}`, payload: { request: { payload: '{"ping":1}' } } });
    expectStatus(tested, 200);
    assert.equal(receiver.at('/put').at(-1)?.headers['authorization'], 'Bearer tok-original');

    const patch = await t.request({
      method: 'PATCH',
      url: `/api/v2/webhooks/${created.id}`,
      headers: { 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({ webhook: { status: 'inactive', description: 'patched', custom_headers: { 'X-One': null, 'X-Three': '3' } } }),
    });
    expectStatus(patch, 204);
    now = (await t.request({ method: 'GET', url: `/api/v2/webhooks/${created.id}` })).json<{ webhook: WebhookBody }>().webhook;
    assert.equal(now.status, 'inactive');
    assert.equal(now.description, 'patched');
    assert.equal(now.name, 'Renamed', 'what the patch does not name stays');
    assert.deepEqual(now.custom_headers, { 'X-Two': '2', 'X-Three': '3' });
    assert.deepEqual(now.authentication, { type: 'bearer_token', add_position: 'header' });

    const removeAuth = await t.request({ method: 'PATCH', url: `/api/v2/webhooks/${created.id}`, payload: { webhook: { authentication: null } } });
    expectStatus(removeAuth, 204);
    now = (await t.request({ method: 'GET', url: `/api/v2/webhooks/${created.id}` })).json<{ webhook: WebhookBody }>().webhook;
    assert.equal(now.authentication, undefined);

    expectStatus(await t.request({ method: 'DELETE', url: `/api/v2/webhooks/${created.id}` }), 204);
    const gone = await t.request({ method: 'GET', url: `/api/v2/webhooks/${created.id}` });
    expectStatus(gone, 404);
    assert.deepEqual(gone.json(), NOT_FOUND);
    expectStatus(await t.request({ method: 'DELETE', url: `/api/v2/webhooks/${created.id}` }), 404);
    expectStatus(await t.request({ method: 'GET', url: '/api/v2/webhooks/not-a-webhook-id' }), 404);
  });

  it('lists with cursor pagination (meta, links) and filters by name and status', async () => {
    const tag = randomBytes(3).toString('hex');
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push((await createWebhook(`/list-${n}`, { name: `Paged ${tag} ${n}` })).id);
    await t.request({ method: 'PATCH', url: `/api/v2/webhooks/${ids[2]}`, payload: { webhook: { status: 'inactive' } } });

    const first = await t.request({ method: 'GET', url: `/api/v2/webhooks?filter[name_contains]=${tag.toUpperCase()}&page[size]=2` });
    expectStatus(first, 200);
    const one = first.json<Page & { webhooks: WebhookBody[] }>();
    assert.deepEqual(one.webhooks.map((w) => w.id), ids.slice(0, 2));
    assert.equal(one.meta.has_more, true);
    assert.ok(one.links.next && one.meta.after_cursor);
    assert.equal(one.links.prev, null);
    assert.match(one.links.next, /^http:\/\/localhost(:\d+)?\/api\/v2\/webhooks\?/);

    const second = (await t.request({ method: 'GET', url: pathOf(one.links.next) })).json<Page & { webhooks: WebhookBody[] }>();
    assert.deepEqual(second.webhooks.map((w) => w.id), [ids[2]]);
    assert.equal(second.meta.has_more, false);
    assert.equal(second.links.next, null);
    assert.ok(second.links.prev);
    const back = (await t.request({ method: 'GET', url: pathOf(second.links.prev) })).json<Page & { webhooks: WebhookBody[] }>();
    assert.deepEqual(back.webhooks.map((w) => w.id), ids.slice(0, 2));

    const active = (await t.request({ method: 'GET', url: `/api/v2/webhooks?filter[name_contains]=${tag}&filter[status]=active` })).json<{ webhooks: WebhookBody[] }>();
    assert.deepEqual(active.webhooks.map((w) => w.id), ids.slice(0, 2));
    const bad = await t.request({ method: 'GET', url: '/api/v2/webhooks?page[after]=bm90LWEtdWxpZA' });
    expectStatus(bad, 400);
  });

  it('refuses bad input with a 422 naming each field, and writes nothing', async () => {
    const before = await countRows(t.db, 'webhooks');
    const blank = await t.request({ method: 'POST', url: '/api/v2/webhooks', payload: { webhook: { status: 'active' } } });
    const body = assertValidation(blank, 'webhook.endpoint');
    for (const field of ['webhook.name', 'webhook.http_method', 'webhook.request_format', 'webhook.subscriptions']) assert.ok(body.details[field], `${field} is named: ${blank.body}`);

    const cases: Array<[Record<string, unknown>, string]> = [
      [{ http_method: 'GET' }, 'webhook.http_method'],
      [{ request_format: 'xml' }, 'webhook.request_format'],
      [{ status: 'paused' }, 'webhook.status'],
      [{ subscriptions: ['zen:event-type:user.created'] }, 'webhook.subscriptions'],
      [{ subscriptions: ['conditional_ticket_events'] }, 'webhook.subscriptions'],
      [{ endpoint: 'not a url' }, 'webhook.endpoint'],
      [{ endpoint: 'ftp://files.example.com/' }, 'webhook.endpoint'],
      [{ authentication: { type: 'oauth' } }, 'webhook.authentication'],
      [{ authentication: { type: 'basic_auth', data: { username: 'u' } } }, 'webhook.authentication'],
      [{ authentication: { type: 'api_key', data: { name: 'Authorization', value: 'k' } } }, 'webhook.authentication'],
      [{ custom_headers: { Authorization: 'Bearer x' } }, 'webhook.custom_headers'],
      [{ custom_headers: { 'X-Bad': 'line\r\nInjected: yes' } }, 'webhook.custom_headers'],
      [{ custom_headers: { 'bad header': 'x' } }, 'webhook.custom_headers'],
      [{ custom_headers: Object.fromEntries([1, 2, 3, 4, 5, 6].map((n) => [`X-H${n}`, 'v'])) }, 'webhook.custom_headers'],
      [{ name: 'x'.repeat(300) }, 'webhook.name'],
    ];
    for (const [overrides, field] of cases) {
      const res = await t.request({ method: 'POST', url: '/api/v2/webhooks', payload: { webhook: webhookInput('/invalid', overrides) } });
      assertValidation(res, field);
    }
    const wrongType = await t.request({ method: 'POST', url: '/api/v2/webhooks', payload: { webhook: { ...webhookInput('/invalid'), name: 42 } } });
    assertValidation(wrongType, 'webhook.name');
    assert.equal(await countRows(t.db, 'webhooks'), before);

    const created = await createWebhook('/invalid-update');
    const put = await t.request({ method: 'PUT', url: `/api/v2/webhooks/${created.id}`, payload: { webhook: { name: 'only a name' } } });
    assertValidation(put, 'webhook.endpoint');
    const patch = await t.request({ method: 'PATCH', url: `/api/v2/webhooks/${created.id}`, payload: { webhook: { name: null } } });
    assertValidation(patch, 'webhook.name');
    const switchAuth = await t.request({ method: 'PATCH', url: `/api/v2/webhooks/${created.id}`, payload: { webhook: { authentication: { type: 'bearer_token' } } } });
    assertValidation(switchAuth, 'webhook.authentication');
    const still = (await t.request({ method: 'GET', url: `/api/v2/webhooks/${created.id}` })).json<{ webhook: WebhookBody }>().webhook;
    assert.deepEqual(still, created);
  });

  it('is for admins only: agents and end users get 403, no credentials 401', async () => {
    const endUser = await t.createUser('end-user');
    const created = await createWebhook('/admins');
    const calls: Array<{ method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; payload?: object }> = [
      { method: 'GET', url: '/api/v2/webhooks' },
      { method: 'POST', url: '/api/v2/webhooks', payload: { webhook: webhookInput('/admins') } },
      { method: 'GET', url: `/api/v2/webhooks/${created.id}` },
      { method: 'PUT', url: `/api/v2/webhooks/${created.id}`, payload: { webhook: webhookInput('/admins') } },
      { method: 'PATCH', url: `/api/v2/webhooks/${created.id}`, payload: { webhook: { status: 'inactive' } } },
      { method: 'DELETE', url: `/api/v2/webhooks/${created.id}` },
      { method: 'GET', url: `/api/v2/webhooks/${created.id}/signing_secret` },
      { method: 'POST', url: `/api/v2/webhooks/${created.id}/signing_secret` },
      { method: 'POST', url: '/api/v2/webhooks/test', payload: { request: { endpoint: `${receiver.url}/admins` } } },
      { method: 'GET', url: `/api/v2/webhooks/${created.id}/invocations` },
    ];
    for (const call of calls) {
      for (const user of [agent, endUser]) {
        const res = await t.request({ ...call, auth: user.auth });
        expectStatus(res, 403);
        assert.deepEqual(res.json(), FORBIDDEN);
      }
      const anonymous = await t.request({ ...call, auth: null });
      expectStatus(anonymous, 401);
      assert.deepEqual(anonymous.json(), UNAUTHORIZED);
    }
    assert.equal(receiver.at('/admins').length, 0, 'no refused test request went out');
    const still = await t.request({ method: 'GET', url: `/api/v2/webhooks/${created.id}` });
    assert.deepEqual(still.json<{ webhook: WebhookBody }>().webhook, created);
  });

  it("keeps accounts apart: another account's admin neither sees nor changes a webhook, nor gets its events", async () => {
    const mine = await createWebhook('/isolation-a');
    const theirs = await createWebhook('/isolation-b', {}, { auth: other.admin.auth, host: OTHER_HOST });
    const row = await t.db.selectFrom('webhooks').select('account_id').where('id', '=', theirs.id).executeTakeFirstOrThrow();
    assert.equal(Number(row.account_id), other.accountId, 'created in the account of the Host it was sent to');
    const asOther = { auth: other.admin.auth, headers: { host: OTHER_HOST } };
    for (const [who, id] of [[{}, theirs.id], [asOther, mine.id]] as const) {
      for (const call of [
        { method: 'GET' as const, url: `/api/v2/webhooks/${id}` },
        { method: 'GET' as const, url: `/api/v2/webhooks/${id}/signing_secret` },
        { method: 'GET' as const, url: `/api/v2/webhooks/${id}/invocations` },
        { method: 'PATCH' as const, url: `/api/v2/webhooks/${id}`, payload: { webhook: { status: 'inactive' } } },
        { method: 'DELETE' as const, url: `/api/v2/webhooks/${id}` },
      ]) {
        const res = await t.request({ ...call, ...who });
        expectStatus(res, 404);
        assert.deepEqual(res.json(), NOT_FOUND);
      }
    }
    // The other admin's credentials do not open this account at all.
    expectStatus(await t.request({ method: 'GET', url: '/api/v2/webhooks', auth: other.admin.auth }), 401);
    const listed = (await t.request({ method: 'GET', url: '/api/v2/webhooks?page[size]=100' })).json<{ webhooks: WebhookBody[] }>().webhooks.map((w) => w.id);
    assert.ok(listed.includes(mine.id));
    assert.ok(!listed.includes(theirs.id));
    const theirList = (await t.request({ method: 'GET', url: '/api/v2/webhooks', ...asOther })).json<{ webhooks: WebhookBody[] }>().webhooks.map((w) => w.id);
    assert.deepEqual(theirList, [theirs.id]);

    // An event in this account reaches this account's webhook only.
    await emailConversation(await newTicket());
    assert.equal((await t.db.selectFrom('webhook_invocations').select('id').where('webhook_id', '=', theirs.id).execute()).length, 0);
    assert.equal((await invocationsOf(mine.id)).length, 1);
    assert.deepEqual((await t.db.selectFrom('webhooks').select('status').where('id', '=', mine.id).executeTakeFirstOrThrow()).status, 'active');
  });
});

// ---------------------------------------------------------------------------------------------

describe(`webhook delivery (${STORE_KIND})`, () => {
  it('an API create is delivered once, signed as Zendesk signs, with the envelope of the side conversation and its event', async () => {
    const hook = await createWebhook('/deliver', { custom_headers: { 'X-Source': 'sideline' }, authentication: { type: 'api_key', data: { name: 'X-Api-Key', value: 'key-123' } } });
    const secret = await signingSecretOf(hook.id);
    const ticketId = await newTicket();
    const created = await emailConversation(ticketId, 'Please ship the fuser.');
    // Written with the event, before any delivery.
    const [queued] = await invocationsOf(hook.id);
    assert.ok(queued);
    assert.equal(queued.status, 'pending');
    assert.equal(queued.event_type, CREATED);

    const relay = webhookRelay();
    await runUntil(relay, 'the delivery', () => receiver.at('/deliver').length > 0);
    await relay.runOnce();
    const requests = receiver.at('/deliver');
    assert.equal(requests.length, 1);
    const request = requests[0]!;
    assert.equal(request.method, 'POST');
    assert.match(request.headers['content-type'] ?? '', /^application\/json/);
    assert.ok(zendeskSignatureValid(secret, request), 'the signature verifies with the signing secret');
    assert.ok(!zendeskSignatureValid('another secret', request));
    assert.match(request.headers['x-zendesk-webhook-signature-timestamp'] ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.equal(request.headers['x-zendesk-account-id'], String(t.accountId));
    assert.equal(request.headers['x-zendesk-webhook-id'], hook.id);
    assert.equal(request.headers['x-zendesk-webhook-invocation-id'], queued.id);
    assert.equal(request.headers['x-source'], 'sideline');
    assert.equal(request.headers['x-api-key'], 'key-123');

    const envelope = JSON.parse(request.body) as Envelope;
    assert.equal(envelope.type, CREATED);
    assert.equal(envelope.account_id, t.accountId);
    assert.match(envelope.id, /^[0-9a-f-]{36}$/);
    assert.match(envelope.time, /Z$/);
    assert.equal(envelope.subject, `zen:side_conversation:${created.side_conversation.id}`);
    assert.equal(envelope.detail.id, created.side_conversation.id);
    assert.equal(envelope.detail.url, `${BASE_URL}/api/v2/tickets/${ticketId}/side_conversations/${created.side_conversation.id}`);
    const shownSc = JSON.parse(JSON.stringify(await showSc(t, ticketId, created.side_conversation.id))) as Envelope['detail'];
    assert.deepEqual({ ...envelope.detail, url: null }, { ...shownSc, url: null }, 'the side conversation as Show presents it');
    const [listedEvent] = await eventsOf(t, ticketId, created.side_conversation.id);
    assert.deepEqual(envelope.event, JSON.parse(JSON.stringify(listedEvent)), 'the event as the events endpoint presents it');

    const [done] = await invocationsOf(hook.id);
    assert.equal(done?.status, 'success');
    assert.equal(done?.status_code, 200);
    const attempts = await attemptsOf(hook.id, queued.id);
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0]!.request.payload, request.body);
    assert.ok(attempts[0]!.request.headers.some((h) => h.key === 'x-api-key' && h.value === '[redacted]'), 'credentials are not recorded');
  });

  it('a receiver answering 500 then 200 gets the event once successfully, with one invocation id, and both attempts are listed', async () => {
    receiver.script('/flaky', [{ status: 500, body: `Internal error ${'x'.repeat(3000)}` }]);
    const hook = await createWebhook('/flaky');
    await emailConversation(await newTicket());
    const relay = webhookRelay();
    await runUntil(relay, 'the retry to succeed', async () => (await invocationsOf(hook.id))[0]?.status === 'success');
    const requests = receiver.at('/flaky');
    assert.equal(requests.length, 2);
    const ids = requests.map((r) => r.headers['x-zendesk-webhook-invocation-id']);
    assert.equal(ids[0], ids[1], 'the invocation id is the same on the retry');
    assert.equal(requests[0]!.body, requests[1]!.body, 'the same bytes are sent again');

    const [invocation] = await invocationsOf(hook.id);
    assert.equal(invocation!.id, ids[0]);
    const attempts = await attemptsOf(hook.id, invocation!.id);
    assert.deepEqual(attempts.map((a) => [a.status, a.response.status]), [['failed', 500], ['success', 200]]);
    assert.equal(attempts[0]!.response.payload.length, 1024, 'the first 1 KB of the answer is kept');
    assert.ok(attempts[0]!.response.payload.startsWith('Internal error'));
    assert.equal(attempts[1]!.response.payload, '{"ok":true}');
    for (const a of attempts) assert.ok(Number.isInteger(a.duration_ms) && a.duration_ms >= 0);
    expectStatus(await t.request({ method: 'GET', url: `/api/v2/webhooks/${hook.id}/invocations/nope/attempts` }), 404);
  });

  it('429 with Retry-After waits as long as the endpoint asked, then delivers', async () => {
    receiver.script('/busy', [{ status: 429, headers: { 'retry-after': '2' }, body: 'slow down' }]);
    const hook = await createWebhook('/busy');
    await emailConversation(await newTicket());
    const relay = webhookRelay();
    await runUntil(relay, 'the first attempt', () => receiver.at('/busy').length === 1);
    const outbox = await t.db
      .selectFrom('outbox')
      .innerJoin('webhook_invocations', 'webhook_invocations.outbox_id', 'outbox.id')
      .select(['outbox.next_attempt_at', 'outbox.status', 'webhook_invocations.id as invocation_id'])
      .where('webhook_invocations.webhook_id', '=', hook.id)
      .executeTakeFirstOrThrow();
    assert.equal(outbox.status, 'pending');
    const [attempt] = await t.db.selectFrom('webhook_invocation_attempts').select('completed_at').where('invocation_id', '=', outbox.invocation_id).execute();
    // The relay's own backoff here is 10 ms; the row is due when the endpoint said, not before.
    assert.ok(outbox.next_attempt_at.getTime() - attempt!.completed_at.getTime() >= 2000, `due ${outbox.next_attempt_at.toISOString()} after ${attempt!.completed_at.toISOString()}`);
    await runUntil(relay, 'the delivery after Retry-After', async () => (await invocationsOf(hook.id))[0]?.status === 'success');
    assert.equal(receiver.at('/busy').length, 2);
  });

  it('a 4xx other than 409 and 429 is final: one attempt, the invocation failed', async () => {
    receiver.script('/gone', [{ status: 410, body: 'gone' }]);
    const hook = await createWebhook('/gone');
    await emailConversation(await newTicket());
    const relay = webhookRelay();
    await runUntil(relay, 'the failure', async () => (await invocationsOf(hook.id))[0]?.status === 'failed');
    assert.equal(receiver.at('/gone').length, 1);
    const [invocation] = await invocationsOf(hook.id, '?filter[status]=failed');
    assert.equal(invocation?.status_code, 410);
    assert.equal((await invocationsOf(hook.id, '?filter[status]=success')).length, 0);
  });

  it('inactive webhooks and other subscriptions get nothing', async () => {
    const inactive = await createWebhook('/inactive', { status: 'inactive' });
    const otherType = await createWebhook('/other-type', { subscriptions: [STATE_CHANGED] });
    const relay = webhookRelay();
    await emailConversation(await newTicket());
    await relay.runOnce();
    assert.equal((await invocationsOf(inactive.id)).length, 0);
    assert.equal((await invocationsOf(otherType.id)).length, 0);
    assert.equal(receiver.at('/inactive').length + receiver.at('/other-type').length, 0);
  });

  it('a state change and an inbound email reply reach their subscribers (the email as side_conversation.replied)', async () => {
    const hook = await createWebhook('/roads', { subscriptions: [REPLIED, STATE_CHANGED] });
    const ticketId = await newTicket();
    const created = await emailConversation(ticketId);
    const scId = created.side_conversation.id;
    const closed = await t.request({ method: 'PUT', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}`, payload: { side_conversation: { state: 'closed' } } });
    expectStatus(closed, 200);
    const token = (await t.db.selectFrom('side_conversations').select('reply_token').where('id', '=', scId).executeTakeFirstOrThrow()).reply_token!;
    const raw = [
      'From: "Vendor" <vendor@example.com>',
      `To: reply+${token}@${INBOUND_DOMAIN}`,
      'Subject: Re: Fuser',
      `Message-ID: <webhook-${randomBytes(4).toString('hex')}@vendor.example>`,
      `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Shipped this morning.',
      '',
    ].join('\r\n');
    const inbound = await t.request({ method: 'POST', url: '/api/v2/inbound/email', payload: raw, headers: { 'content-type': 'message/rfc822', authorization: `Bearer ${INBOUND_SECRET}` }, auth: null });
    expectStatus(inbound, 201);

    const relay = webhookRelay();
    await runUntil(relay, 'two deliveries', () => receiver.at('/roads').length >= 2);
    await relay.runOnce();
    const bodies = receiver.at('/roads').map((r) => JSON.parse(r.body) as Envelope);
    assert.deepEqual(bodies.map((b) => b.type), [STATE_CHANGED, REPLIED]);
    const reply = bodies[1]!;
    assert.equal(reply.event.via, 'email');
    assert.equal(reply.event.type, 'reply');
    assert.equal(reply.event.message?.body, 'Shipped this morning.');
    assert.equal(reply.detail.id, scId);
    assert.deepEqual(bodies[0]!.event.updates, { state: 'closed' });
  });

  it('a delivery that fails for good (the relay giving up on an email) is side_conversation.delivery_failed', async () => {
    const hook = await createWebhook('/failed', { subscriptions: [DELIVERY_FAILED] });
    const created = await emailConversation(await newTicket());
    // A relay without an email channel retries the email; with one attempt allowed, it gives up.
    const emailless = new Relay({ db: t.db, logger: silentLogger, channels: {}, maxAttempts: 1 });
    await runUntil(emailless, 'the email to fail', async () => {
      const row = await t.db.selectFrom('deliveries').select('status').where('event_id', '=', created.event!.id).executeTakeFirstOrThrow();
      return row.status === 'failed';
    });
    const [invocation] = await invocationsOf(hook.id);
    assert.equal(invocation?.event_type, DELIVERY_FAILED, 'written in the transaction that failed the delivery');
    await runUntil(webhookRelay(), 'the delivery_failed webhook', () => receiver.at('/failed').length > 0);
    const envelope = JSON.parse(receiver.at('/failed')[0]!.body) as Envelope;
    assert.equal(envelope.type, DELIVERY_FAILED);
    assert.equal(envelope.event.id, created.event!.id);
    assert.deepEqual(envelope.event.message?.deliveries.map((d) => [d.recipient, d.status]), [['vendor@example.com', 'failed']]);
  });

  it('the circuit breaker pauses a failing endpoint without spending its attempts, then lets one trial through', async () => {
    receiver.script('/down', Array.from({ length: 4 }, () => ({ status: 503, body: 'down' })));
    const hook = await createWebhook('/down');
    await emailConversation(await newTicket());
    await emailConversation(await newTicket());
    const circuit: CircuitPolicy = { threshold: 2, pauseMs: 1_500, maxPauseMs: 1_500, trialMs: 5_000 };
    const relay = webhookRelay({ circuit });
    await runUntil(relay, 'two failed attempts', () => receiver.at('/down').length >= 2);
    const state = await t.db.selectFrom('webhooks').select(['circuit_failures', 'circuit_open_until']).where('id', '=', hook.id).executeTakeFirstOrThrow();
    assert.equal(state.circuit_failures, 2);
    assert.ok(state.circuit_open_until, 'the circuit is open');
    // While it is open, due rows are postponed without a request and without using an attempt.
    const attemptsBefore = await sql<{ n: number }>`select sum(o.attempts)::int as n from outbox o join webhook_invocations i on i.outbox_id = o.id where i.webhook_id = ${hook.id}`.execute(t.db);
    await relay.runOnce();
    await relay.runOnce();
    assert.equal(receiver.at('/down').length, 2, 'no request while the circuit is open');
    const attemptsAfter = await sql<{ n: number }>`select sum(o.attempts)::int as n from outbox o join webhook_invocations i on i.outbox_id = o.id where i.webhook_id = ${hook.id}`.execute(t.db);
    assert.equal(attemptsAfter.rows[0]!.n, attemptsBefore.rows[0]!.n);
    // After the pause, one trial; it fails (503) and the circuit opens again.
    await runUntil(relay, 'the trial', () => receiver.at('/down').length >= 3);
    await relay.runOnce();
    assert.equal(receiver.at('/down').length, 3, 'one trial only');
    // Then the endpoint recovers: both events arrive and the circuit closes.
    receiver.script('/down', []);
    await runUntil(relay, 'both deliveries', async () => (await invocationsOf(hook.id, '?filter[status]=success')).length === 2);
    const closed = await t.db.selectFrom('webhooks').select(['circuit_failures', 'circuit_open_until']).where('id', '=', hook.id).executeTakeFirstOrThrow();
    assert.deepEqual(closed, { circuit_failures: 0, circuit_open_until: null });
  });

  it('a timeout is retried with the same invocation id', async () => {
    let calls = 0;
    const stalling = await listenLoopback(async (req, res) => {
      await readBody(req);
      calls += 1;
      // The first answer comes long after the channel's timeout (200 ms here), the next at once.
      if (calls === 1) await sleep(1_500);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    try {
      const hook = await createWebhook('/slow', { endpoint: `${stalling.url}/slow` });
      await emailConversation(await newTicket());
      const relay = webhookRelay({ timeoutMs: 200 });
      await runUntil(relay, 'the retry after the timeout', async () => (await invocationsOf(hook.id))[0]?.status === 'success');
      const [invocation] = await invocationsOf(hook.id);
      const attempts = await attemptsOf(hook.id, invocation!.id);
      assert.deepEqual(attempts.map((a) => [a.status, a.response.status]), [['failed', null], ['success', 200]]);
      assert.match(attempts[0]!.error ?? '', /timeout|aborted|no answer/i);
    } finally {
      await stalling.close();
    }
  });

  it('a reset signing secret signs what is sent afterwards', async () => {
    const hook = await createWebhook('/reset');
    const oldSecret = await signingSecretOf(hook.id);
    const reset = await t.request({ method: 'POST', url: `/api/v2/webhooks/${hook.id}/signing_secret` });
    expectStatus(reset, 201);
    const newSecret = reset.json<{ signing_secret: { algorithm: string; secret: string } }>().signing_secret.secret;
    assert.notEqual(newSecret, oldSecret);
    assert.equal(await signingSecretOf(hook.id), newSecret);
    await emailConversation(await newTicket());
    await runUntil(webhookRelay(), 'the delivery', () => receiver.at('/reset').length > 0);
    const request = receiver.at('/reset')[0]!;
    assert.ok(zendeskSignatureValid(newSecret, request));
    assert.ok(!zendeskSignatureValid(oldSecret, request));
  });

  it('POST /api/v2/webhooks/test sends one request now: unsaved ones signed with the static test secret', async () => {
    receiver.script('/test-endpoint', [{ status: 202, headers: { 'content-type': 'text/plain', 'x-answer': 'yes' }, body: 'accepted' }]);
    const res = await t.request({
      method: 'POST',
      url: '/api/v2/webhooks/test',
      payload: { request: { endpoint: `${receiver.url}/test-endpoint`, http_method: 'POST', request_format: 'json', payload: '{"hello":"world"}', headers: [{ key: 'X-Test', value: '1' }] } },
    });
    expectStatus(res, 200);
    const answer = res.json<{ response: { status: number; headers: Array<{ key: string; value: string }>; body: string } }>().response;
    assert.equal(answer.status, 202);
    assert.equal(answer.body, 'accepted');
    assert.ok(answer.headers.some((h) => h.key === 'x-answer' && h.value === 'yes'));
    const request = receiver.at('/test-endpoint')[0]!;
    assert.equal(request.body, '{"hello":"world"}');
    assert.equal(request.headers['x-test'], '1');
    assert.ok(zendeskSignatureValid('dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==', request), "signed with Zendesk's documented test secret");
    assert.equal(await countRows(t.db, 'webhook_invocations'), (await t.db.selectFrom('webhook_invocations').select('id').execute()).length);

    assertValidation(await t.request({ method: 'POST', url: '/api/v2/webhooks/test', payload: { request: {} } }), 'request.endpoint');
    assertValidation(await t.request({ method: 'POST', url: '/api/v2/webhooks/test', payload: { request: { endpoint: `${receiver.url}/x`, http_method: 'DELETE' } } }), 'request.http_method');
    expectStatus(await t.request({ method: 'POST', url: '/api/v2/webhooks/test?webhook_id=01JNOSUCHWEBHOOK0000000000', payload: {} }), 404);
  });

  it('Retry-After is read as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-12-01T10:00:00Z');
    assert.equal(retryAfterMs('120', now), 120_000);
    assert.equal(retryAfterMs('Tue, 01 Dec 2026 10:00:30 GMT', now), 30_000);
    assert.equal(retryAfterMs('soon', now), undefined);
    assert.equal(retryAfterMs(undefined, now), undefined);
  });
});

// ---------------------------------------------------------------------------------------------

describe(`webhook endpoints and the address guard (${STORE_KIND})`, () => {
  let strict: TestApp;
  before(async () => {
    strict = await startTestApp({ encryptionKey: undefined });
  });
  after(async () => {
    await strict.close();
  });

  it('without WEBHOOK_ALLOW_PRIVATE, plain http and private, loopback, link-local and metadata addresses are a 422', async () => {
    const refused: Array<[string, RegExp]> = [
      [`${receiver.url}/private`, /https/],
      ['https://127.0.0.1/hook', /private, loopback or link-local.*WEBHOOK_ALLOW_PRIVATE/],
      ['https://10.1.2.3/hook', /private/],
      ['https://192.168.0.10/hook', /private/],
      ['https://169.254.169.254/latest/meta-data', /private/],
      ['https://[::1]/hook', /private/],
      ['https://[::ffff:127.0.0.1]/hook', /private/],
      ['https://localhost/hook', /private/],
      ['http://crm.example.com/hook', /https/],
    ];
    for (const [endpoint, message] of refused) {
      const res = await strict.request({ method: 'POST', url: '/api/v2/webhooks', payload: { webhook: { ...webhookInput('/private'), endpoint } } });
      const body = assertValidation(res, 'webhook.endpoint');
      assert.match(body.details['webhook.endpoint']![0]!.description, message, endpoint);
    }
    const test = await strict.request({ method: 'POST', url: '/api/v2/webhooks/test', payload: { request: { endpoint: 'https://127.0.0.1/x' } } });
    assertValidation(test, 'request.endpoint');
    assert.equal(await countRows(strict.db, 'webhooks'), 0);
    assert.equal(receiver.at('/private').length, 0);
  });

  it('without SIDELINE_ENCRYPTION_KEY, secrets are sealed with the install key and still sign', async () => {
    const res = await strict.request({ method: 'POST', url: '/api/v2/webhooks', payload: { webhook: { ...webhookInput('/x'), endpoint: 'https://crm.example.com/hook', authentication: { type: 'bearer_token', data: { token: 'tok-install' } } } } });
    expectStatus(res, 201);
    const id = res.json<{ webhook: WebhookBody }>().webhook.id;
    const row = await strict.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.match(row.signing_secret_sealed, /^install:v1\./);
    assert.match(row.auth_secret_sealed ?? '', /^install:v1\./);
    assert.ok(!(row.auth_secret_sealed ?? '').includes('tok-install'));
    const secret = await strict.request({ method: 'GET', url: `/api/v2/webhooks/${id}/signing_secret` });
    expectStatus(secret, 200);
    assert.equal(Buffer.from(secret.json<{ signing_secret: { secret: string } }>().signing_secret.secret, 'base64').length, 32);
  });

  it('the endpoint is checked again at delivery: a relay without WEBHOOK_ALLOW_PRIVATE refuses a loopback endpoint and records why', async () => {
    const hook = await createWebhook('/rebound');
    await emailConversation(await newTicket());
    const relay = webhookRelay({ allowPrivate: false });
    await runUntil(relay, 'the refusal', async () => (await invocationsOf(hook.id))[0]?.status === 'failed');
    assert.equal(receiver.at('/rebound').length, 0);
    const [invocation] = await invocationsOf(hook.id);
    const [attempt] = await attemptsOf(hook.id, invocation!.id);
    assert.match(attempt!.error ?? '', /https|private/);
  });
});
