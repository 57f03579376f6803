/**
 * Slack and Microsoft Teams side conversations, against loopback fakes of Slack's Web API and of
 * the Bot Framework (token endpoint, connector, OpenID metadata + JWKS):
 * - the admin integrations API and how its secrets are kept;
 * - Slack: delivery through the relay (thread start, replies, files), signed inbound events,
 *   retries (ratelimited, final errors) and the metadata lookup that keeps a retried post single;
 * - Teams: delivery through the connector, JWT-checked inbound activities, connector errors.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { countRows, startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';
import { eventsOf, expectStatus, multipartFile, UNAUTHORIZED } from '../helpers/api.js';
import type { Upload, WriteBody } from '../helpers/api-types.js';
import { startFakeSlack, type FakeSlack, type SlackCall } from '../helpers/fake-slack.js';
import { startFakeTeams, type FakeTeams } from '../helpers/fake-teams.js';
import { SecretBox } from '../../src/integrations/secret-box.js';
import { DatabaseBlobStore } from '../../src/attachments/storage.js';
import { Relay, type RelayLogger } from '../../src/outbox/relay.js';
import { createSlackChannel } from '../../src/channels/slack/deliver.js';
import { createTeamsChannel } from '../../src/channels/teams/deliver.js';
import { TeamsConnector } from '../../src/channels/teams/connector.js';
import type { Database, OutboxRow } from '../../src/db/types.js';

// ---------------------------------------------------------------------------------------------
// Shapes of the responses read here (the shared ones in helpers/api-types.ts)
// ---------------------------------------------------------------------------------------------

interface ErrorBody {
  error: string | { title: string; message: string };
  description?: string;
  details?: Record<string, Array<{ description: string; error?: string }>>;
}

interface SlackWorkspaceOut {
  id: number;
  team_id: string;
  name: string | null;
  created_at: string;
}

interface TeamsBotOut {
  id: number;
  app_id: string;
  tenant_id: string;
  service_url: string;
  created_at: string;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

const TEAM = 'T123ABC';
const CHANNEL = 'C456DEF';
const BOT_TOKEN = `xoxb-1111-2222-${randomBytes(8).toString('hex')}`;
const SIGNING_SECRET = `sign-${randomBytes(12).toString('hex')}`;

const APP_ID = 'APPID';
const APP_PASSWORD = `teams-pw-${randomBytes(8).toString('hex')}`;
const TENANT = 'tenant-0001';
const TEAMS_CHANNEL = '19:chan@thread.tacv2';
const ISSUER = 'https://api.botframework.com';
const SCOPE = 'https://api.botframework.com/.default';

const silentLogger: RelayLogger = { info() {}, warn() {}, error() {} };

async function newTicket(t: TestApp, subject = 'Order 42 is late'): Promise<number> {
  const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject, comment: { body: 'Where is it?' } } } });
  expectStatus(res, 201);
  return res.json<{ ticket: { id: number } }>().ticket.id;
}

function createSc(t: TestApp, ticketId: number, message: Record<string, unknown>, auth?: string): Promise<LightMyRequestResponse> {
  return t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations`, payload: { message }, ...(auth ? { auth } : {}) });
}

async function createScOk(t: TestApp, ticketId: number, message: Record<string, unknown>): Promise<{ scId: string; eventId: string; out: WriteBody }> {
  const res = await createSc(t, ticketId, message);
  expectStatus(res, 201);
  const out = res.json<WriteBody>();
  assert.ok(out.event, 'a create event');
  return { scId: out.side_conversation.id, eventId: out.event.id, out };
}

async function replyOk(t: TestApp, ticketId: number, scId: string, message: Record<string, unknown>): Promise<string> {
  const res = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/reply`, payload: { message } });
  expectStatus(res, 200);
  const event = res.json<WriteBody>().event;
  assert.ok(event, 'a reply event');
  return event.id;
}

async function outboxOf(db: Kysely<Database>, eventId: string): Promise<OutboxRow> {
  return db.selectFrom('outbox').selectAll().where('event_id', '=', eventId).executeTakeFirstOrThrow();
}

/** How far ahead of the database's clock next_attempt_at is, in seconds. */
async function secondsAhead(db: Kysely<Database>, outboxId: number): Promise<number> {
  const result = await sql<{ s: number | string }>`select extract(epoch from (next_attempt_at - now()))::float8 as s from outbox where id = ${outboxId}`.execute(db);
  return Number(result.rows[0]!.s);
}

/** Makes a waiting row due now (the clock is not waited on). */
async function makeDue(db: Kysely<Database>, outboxId: number): Promise<void> {
  await db.updateTable('outbox').set({ next_attempt_at: sql`now() - interval '1 second'` }).where('id', '=', outboxId).execute();
}

async function sideConversationRow(db: Kysely<Database>, scId: string) {
  return db.selectFrom('side_conversations').selectAll().where('id', '=', scId).executeTakeFirstOrThrow();
}

async function writeCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  return {
    side_conversation_events: await countRows(db, 'side_conversation_events'),
    inbound_events_seen: await countRows(db, 'inbound_events_seen'),
    outbox: await countRows(db, 'outbox'),
    side_conversations: await countRows(db, 'side_conversations'),
  };
}

/** Neither a secret value nor the name of a secret field appears anywhere in the response body. */
function assertNoSecrets(res: LightMyRequestResponse, secrets: string[], label: string): void {
  for (const secret of secrets) assert.ok(!res.body.includes(secret), `${label}: a secret leaked into the response: ${res.body}`);
  for (const key of ['bot_token', 'signing_secret', 'bot_token_enc', 'signing_secret_enc', 'app_password', 'app_password_enc']) {
    assert.ok(!res.body.includes(`"${key}"`), `${label}: the response names ${key}: ${res.body}`);
  }
}

function connectSlack(t: TestApp, workspace: Record<string, unknown>, extra: { auth?: string; host?: string } = {}): Promise<LightMyRequestResponse> {
  return t.request({
    method: 'POST',
    url: '/api/v2/sideline/integrations/slack',
    payload: { slack_workspace: workspace },
    ...(extra.auth ? { auth: extra.auth } : {}),
    ...(extra.host ? { headers: { host: extra.host } } : {}),
  });
}

function connectTeams(t: TestApp, bot: Record<string, unknown>, extra: { auth?: string; host?: string } = {}): Promise<LightMyRequestResponse> {
  return t.request({
    method: 'PUT',
    url: '/api/v2/sideline/integrations/teams',
    payload: { teams_bot: bot },
    ...(extra.auth ? { auth: extra.auth } : {}),
    ...(extra.host ? { headers: { host: extra.host } } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// 1. The integrations API
// ---------------------------------------------------------------------------------------------

describe(`integrations API (${STORE_KIND})`, () => {
  let t: TestApp;
  const encryptionKey = randomBytes(32).toString('hex');
  const box = SecretBox.fromEnv(encryptionKey)!;
  const responses: Array<{ label: string; res: LightMyRequestResponse }> = [];
  const seen = (label: string, res: LightMyRequestResponse) => {
    responses.push({ label, res });
    return res;
  };
  const allSecrets = [BOT_TOKEN, SIGNING_SECRET, 'xoxb-replaced-token-9999', 'replaced-signing-secret', APP_PASSWORD, 'teams-pw-replaced'];

  let acme: { accountId: number; admin: { auth: string } };
  before(async () => {
    t = await startTestApp({ encryptionKey });
    acme = await t.createAccount('acme');
  });
  after(async () => t.close());

  it('connects a Slack workspace: 201 with team_id and name, and no secret in the body', async () => {
    const res = seen('connect', await connectSlack(t, { team_id: TEAM, bot_token: BOT_TOKEN, signing_secret: SIGNING_SECRET, name: 'Vendor Co' }));
    expectStatus(res, 201);
    const body = res.json<{ slack_workspace: SlackWorkspaceOut }>();
    assert.deepEqual(Object.keys(body.slack_workspace).sort(), ['created_at', 'id', 'name', 'team_id']);
    assert.equal(body.slack_workspace.team_id, TEAM);
    assert.equal(body.slack_workspace.name, 'Vendor Co');
    assert.match(body.slack_workspace.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assertNoSecrets(res, allSecrets, 'connect');
  });

  it('keeps the secrets sealed (v1.…, not the plain values) in the database, openable with the key', async () => {
    const row = await t.db.selectFrom('slack_workspaces').selectAll().where('team_id', '=', TEAM).executeTakeFirstOrThrow();
    for (const [column, plain] of [
      [row.bot_token_enc, BOT_TOKEN],
      [row.signing_secret_enc, SIGNING_SECRET],
    ] as const) {
      assert.ok(column.startsWith('v1.'), column);
      assert.ok(!column.includes(plain), 'the plain secret is stored');
      assert.equal(box.open(column), plain);
    }
    assert.notEqual(row.bot_token_enc, row.signing_secret_enc);
    assert.equal(row.account_id, t.accountId);
  });

  it('lists connected workspaces without secrets', async () => {
    const res = seen('list', await t.request({ method: 'GET', url: '/api/v2/sideline/integrations/slack' }));
    expectStatus(res, 200);
    const list = res.json<{ slack_workspaces: SlackWorkspaceOut[] }>().slack_workspaces;
    assert.deepEqual(
      list.map((w) => [w.team_id, w.name]),
      [[TEAM, 'Vendor Co']],
    );
    assertNoSecrets(res, allSecrets, 'list');
  });

  it('reconnecting the same workspace replaces its secrets (one row, new sealed values)', async () => {
    const before = await t.db.selectFrom('slack_workspaces').selectAll().where('team_id', '=', TEAM).executeTakeFirstOrThrow();
    const res = seen(
      'reconnect',
      await connectSlack(t, { team_id: TEAM, bot_token: 'xoxb-replaced-token-9999', signing_secret: 'replaced-signing-secret', name: 'Vendor Co (new)' }),
    );
    expectStatus(res, 201);
    assert.equal(res.json<{ slack_workspace: SlackWorkspaceOut }>().slack_workspace.id, before.id);
    const after = await t.db.selectFrom('slack_workspaces').selectAll().where('team_id', '=', TEAM).executeTakeFirstOrThrow();
    assert.equal(await countRows(t.db, 'slack_workspaces'), 1);
    assert.equal(after.id, before.id);
    assert.equal(after.name, 'Vendor Co (new)');
    assert.notEqual(after.bot_token_enc, before.bot_token_enc);
    assert.equal(box.open(after.bot_token_enc), 'xoxb-replaced-token-9999');
    assert.equal(box.open(after.signing_secret_enc), 'replaced-signing-secret');
    assert.ok(after.bot_token_enc.startsWith('v1.') && after.signing_secret_enc.startsWith('v1.'));
    assertNoSecrets(res, allSecrets, 'reconnect');
  });

  it('refuses agents (403) on every integrations endpoint and changes nothing', async () => {
    const agent = await t.createUser('agent', 'Agent Smith');
    const before = await t.db.selectFrom('slack_workspaces').selectAll().execute();
    const attempts: Array<{ method: 'GET' | 'POST' | 'PUT' | 'DELETE'; url: string; payload?: Record<string, unknown> }> = [
      { method: 'POST', url: '/api/v2/sideline/integrations/slack', payload: { slack_workspace: { team_id: 'TAGENT', bot_token: 'xoxb-agent', signing_secret: 's' } } },
      { method: 'GET', url: '/api/v2/sideline/integrations/slack' },
      { method: 'DELETE', url: `/api/v2/sideline/integrations/slack/${TEAM}` },
      { method: 'PUT', url: '/api/v2/sideline/integrations/teams', payload: { teams_bot: { app_id: 'A', app_password: 'p', tenant_id: 't', service_url: 'https://x.example/' } } },
      { method: 'GET', url: '/api/v2/sideline/integrations/teams' },
      { method: 'DELETE', url: '/api/v2/sideline/integrations/teams' },
    ];
    for (const a of attempts) {
      const res = seen(`agent ${a.method}`, await t.request({ method: a.method, url: a.url, ...(a.payload ? { payload: a.payload } : {}), auth: agent.auth }));
      expectStatus(res, 403);
      const error = res.json<ErrorBody>().error;
      assert.equal(typeof error === 'object' ? error.title : error, 'Forbidden', `${a.method} ${a.url}`);
    }
    assert.deepEqual(await t.db.selectFrom('slack_workspaces').selectAll().execute(), before);
    assert.equal(await countRows(t.db, 'teams_bots'), 0);
  });

  it('refuses a Slack side conversation for a workspace that is not connected (422 saying so)', async () => {
    const ticketId = await newTicket(t);
    const before = await writeCounts(t.db);
    const res = seen('sc unknown workspace', await createSc(t, ticketId, { subject: 'Hi', body: 'Hello', to: [{ slack_workspace_id: 'TNOPE99', slack_channel_id: CHANNEL }] }));
    expectStatus(res, 422);
    const detail = res.json<ErrorBody>().details?.['message.to[0].slack_workspace_id']?.[0];
    assert.ok(detail, res.body);
    assert.equal(detail.error, 'NotConnected');
    assert.match(detail.description, /Slack workspace TNOPE99 is not connected/);
    assert.deepEqual(await writeCounts(t.db), before);
  });

  it('refuses a Teams side conversation while Teams is not connected (422), and GET teams is 404', async () => {
    const ticketId = await newTicket(t);
    const before = await writeCounts(t.db);
    const res = seen('sc teams not connected', await createSc(t, ticketId, { subject: 'Hi', body: 'Hello', to: [{ msteams_channel_id: TEAMS_CHANNEL }] }));
    expectStatus(res, 422);
    const detail = res.json<ErrorBody>().details?.['message.to[0].msteams_channel_id']?.[0];
    assert.ok(detail, res.body);
    assert.equal(detail.error, 'NotConnected');
    assert.match(detail.description, /Microsoft Teams is not connected/);
    assert.deepEqual(await writeCounts(t.db), before);
    expectStatus(seen('get teams none', await t.request({ method: 'GET', url: '/api/v2/sideline/integrations/teams' })), 404);
  });

  it('connects Teams (PUT), shows it without the password, seals the password, replaces it on PUT again', async () => {
    const res = seen('teams put', await connectTeams(t, { app_id: APP_ID, app_password: APP_PASSWORD, tenant_id: TENANT, service_url: 'https://smba.example.net/teams/' }));
    expectStatus(res, 200);
    const bot = res.json<{ teams_bot: TeamsBotOut }>().teams_bot;
    assert.deepEqual(Object.keys(bot).sort(), ['app_id', 'created_at', 'id', 'service_url', 'tenant_id']);
    assert.equal(bot.app_id, APP_ID);
    assert.equal(bot.tenant_id, TENANT);
    assert.equal(bot.service_url, 'https://smba.example.net/teams');
    const row = await t.db.selectFrom('teams_bots').selectAll().executeTakeFirstOrThrow();
    assert.ok(row.app_password_enc.startsWith('v1.'));
    assert.ok(!row.app_password_enc.includes(APP_PASSWORD));
    assert.equal(box.open(row.app_password_enc), APP_PASSWORD);

    const shown = seen('teams get', await t.request({ method: 'GET', url: '/api/v2/sideline/integrations/teams' }));
    expectStatus(shown, 200);
    assert.deepEqual(shown.json<{ teams_bot: TeamsBotOut }>().teams_bot, bot);

    const again = seen('teams put again', await connectTeams(t, { app_id: APP_ID, app_password: 'teams-pw-replaced', tenant_id: TENANT, service_url: 'https://smba.example.net/teams' }));
    expectStatus(again, 200);
    assert.equal(again.json<{ teams_bot: TeamsBotOut }>().teams_bot.id, bot.id);
    const replaced = await t.db.selectFrom('teams_bots').selectAll().executeTakeFirstOrThrow();
    assert.equal(await countRows(t.db, 'teams_bots'), 1);
    assert.equal(box.open(replaced.app_password_enc), 'teams-pw-replaced');
  });

  it('lets no other account connect the same Slack team_id or Teams app_id (422), leaving the owner untouched', async () => {
    const before = await t.db.selectFrom('slack_workspaces').selectAll().execute();
    const res = seen(
      'acme connect',
      await connectSlack(t, { team_id: TEAM, bot_token: 'xoxb-acme-steal', signing_secret: 'acme-secret' }, { auth: acme.admin.auth, host: 'acme.example.com' }),
    );
    expectStatus(res, 422);
    const detail = res.json<ErrorBody>().details?.['team_id']?.[0];
    assert.ok(detail, res.body);
    assert.equal(detail.error, 'DuplicateValue');
    assert.equal(detail.description, 'team_id: has already been taken');
    // Nothing about who holds it: not the team id echoed back, not that another account has it.
    assert.ok(!res.body.includes(TEAM) && !/account/i.test(res.body), res.body);
    assert.deepEqual(await t.db.selectFrom('slack_workspaces').selectAll().execute(), before);
    assert.ok(!res.body.includes('xoxb-acme-steal'));

    const teams = seen(
      'acme teams',
      await connectTeams(t, { app_id: APP_ID, app_password: 'acme-pw', tenant_id: 'acme-tenant', service_url: 'https://acme.example/' }, { auth: acme.admin.auth, host: 'acme.example.com' }),
    );
    expectStatus(teams, 422);
    assert.equal(teams.json<ErrorBody>().details?.['app_id']?.[0]?.error, 'DuplicateValue');
    assert.equal(teams.json<ErrorBody>().details?.['app_id']?.[0]?.description, 'app_id: has already been taken');
    assert.ok(!/account/i.test(teams.body), teams.body);
    assert.equal(await countRows(t.db, 'teams_bots'), 1);

    // The acme admin sees none of the first account's connections.
    const list = seen('acme list', await t.request({ method: 'GET', url: '/api/v2/sideline/integrations/slack', auth: acme.admin.auth, headers: { host: 'acme.example.com' } }));
    expectStatus(list, 200);
    assert.deepEqual(list.json<{ slack_workspaces: SlackWorkspaceOut[] }>().slack_workspaces, []);
  });

  it('disconnects a workspace (204), then 404 on the second delete; Teams the same', async () => {
    expectStatus(seen('connect T999', await connectSlack(t, { team_id: 'T999XYZ', bot_token: 'xoxb-other', signing_secret: 'other-secret' })), 201);
    const first = seen('delete', await t.request({ method: 'DELETE', url: '/api/v2/sideline/integrations/slack/T999XYZ' }));
    expectStatus(first, 204);
    assert.equal(first.body, '');
    const second = seen('delete again', await t.request({ method: 'DELETE', url: '/api/v2/sideline/integrations/slack/T999XYZ' }));
    expectStatus(second, 404);
    assert.equal(second.json<ErrorBody>().error, 'RecordNotFound');
    const list = await t.request({ method: 'GET', url: '/api/v2/sideline/integrations/slack' });
    assert.deepEqual(
      list.json<{ slack_workspaces: SlackWorkspaceOut[] }>().slack_workspaces.map((w) => w.team_id),
      [TEAM],
    );

    expectStatus(seen('teams delete', await t.request({ method: 'DELETE', url: '/api/v2/sideline/integrations/teams' })), 204);
    expectStatus(seen('teams delete again', await t.request({ method: 'DELETE', url: '/api/v2/sideline/integrations/teams' })), 404);
    expectStatus(seen('teams get gone', await t.request({ method: 'GET', url: '/api/v2/sideline/integrations/teams' })), 404);
    assert.equal(await countRows(t.db, 'teams_bots'), 0);
  });

  it('never put a secret into any response of this suite', () => {
    assert.ok(responses.length >= 15, `only ${responses.length} responses recorded`);
    for (const { label, res } of responses) assertNoSecrets(res, allSecrets, label);
  });
});

describe(`integrations without SIDELINE_ENCRYPTION_KEY (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ encryptionKey: undefined });
  });
  after(async () => t.close());

  it('refuses to connect Slack or Teams with a 422 naming SIDELINE_ENCRYPTION_KEY, storing nothing', async () => {
    const slack = await connectSlack(t, { team_id: TEAM, bot_token: BOT_TOKEN, signing_secret: SIGNING_SECRET });
    expectStatus(slack, 422);
    const slackDetail = slack.json<ErrorBody>().details?.['base']?.[0];
    assert.ok(slackDetail, slack.body);
    assert.equal(slackDetail.error, 'EncryptionKeyMissing');
    assert.match(slackDetail.description, /SIDELINE_ENCRYPTION_KEY/);
    assert.ok(!slack.body.includes(BOT_TOKEN) && !slack.body.includes(SIGNING_SECRET));

    const teams = await connectTeams(t, { app_id: APP_ID, app_password: APP_PASSWORD, tenant_id: TENANT, service_url: 'https://smba.example.net/teams/' });
    expectStatus(teams, 422);
    assert.match(teams.json<ErrorBody>().details?.['base']?.[0]?.description ?? '', /SIDELINE_ENCRYPTION_KEY/);
    assert.ok(!teams.body.includes(APP_PASSWORD));

    assert.equal(await countRows(t.db, 'slack_workspaces'), 0);
    assert.equal(await countRows(t.db, 'teams_bots'), 0);
  });
});

// ---------------------------------------------------------------------------------------------
// 2 and 3. Slack
// ---------------------------------------------------------------------------------------------

function signSlack(secret: string, timestamp: string, raw: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${raw}`).digest('hex')}`;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

describe(`Slack side conversations (${STORE_KIND})`, () => {
  let t: TestApp;
  let slack: FakeSlack;
  let relay: Relay;
  let deliverSlack: ReturnType<typeof createSlackChannel>;
  const encryptionKey = randomBytes(32).toString('hex');
  const box = SecretBox.fromEnv(encryptionKey)!;
  let ticketId: number;
  /** The round-trip conversation. */
  let scId = '';
  let createEventId = '';
  let firstTs = '';

  function postsFor(eventId: string) {
    return slack.posts.filter((p) => p.metadata?.event_payload?.['event_id'] === eventId);
  }
  function postCallsFor(eventId: string): SlackCall[] {
    return slack.callsTo('chat.postMessage').filter((c) => (c.params['metadata'] as { event_payload?: { event_id?: string } } | undefined)?.event_payload?.event_id === eventId);
  }

  function sendEvent(envelope: Record<string, unknown> | string, sign: { secret?: string; timestamp?: string; signature?: string | null } = {}) {
    const raw = typeof envelope === 'string' ? envelope : JSON.stringify(envelope);
    const timestamp = sign.timestamp ?? String(nowSeconds());
    const signature = sign.signature === undefined ? signSlack(sign.secret ?? SIGNING_SECRET, timestamp, raw) : sign.signature;
    return t.request({
      method: 'POST',
      url: '/integrations/slack/events',
      auth: null,
      headers: {
        'content-type': 'application/json',
        ...(signature === null ? {} : { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature }),
      },
      payload: raw,
    });
  }

  function messageEvent(eventId: string, event: Record<string, unknown>): Record<string, unknown> {
    return {
      token: 'legacy-verification-token',
      team_id: TEAM,
      api_app_id: 'A0SIDELINE',
      type: 'event_callback',
      event_id: eventId,
      event_time: nowSeconds(),
      event: { type: 'message', channel: CHANNEL, channel_type: 'channel', event_ts: String(event['ts'] ?? ''), ...event },
    };
  }

  before(async () => {
    slack = await startFakeSlack();
    slack.users.set('U1', { id: 'U1', name: 'pat', real_name: 'Pat Slack', profile: { real_name: 'Pat Slack', display_name: 'pat', email: 'pat@vendor.example' } });
    t = await startTestApp({ encryptionKey, slackApiUrl: `${slack.url}/api/` });
    deliverSlack = createSlackChannel({ db: t.db, blobs: new DatabaseBlobStore(t.db), box, apiUrl: `${slack.url}/api/` });
    relay = new Relay({ db: t.db, logger: silentLogger, channels: { slack: deliverSlack } });
    expectStatus(await connectSlack(t, { team_id: TEAM, bot_token: BOT_TOKEN, signing_secret: SIGNING_SECRET, name: 'Vendor Co' }), 201);
    ticketId = await newTicket(t);
  });
  after(async () => {
    await t?.close();
    await slack?.close();
  });

  it('posts a new Slack side conversation with chat.postMessage (channel, text, metadata, bot token) and marks it sent', async () => {
    const created = await createScOk(t, ticketId, {
      subject: 'Need a hand',
      body: 'Is order <42> & co ready?',
      to: [{ slack_workspace_id: TEAM, slack_channel_id: CHANNEL }],
    });
    scId = created.scId;
    createEventId = created.eventId;
    // The agent who starts it, then the channel.
    assert.deepEqual(created.out.side_conversation.participants, [
      { user_id: t.admin.id, name: 'Administrator', email: 'admin@example.com' },
      { user_id: null, name: null, email: null, slack_workspace_id: TEAM, slack_channel_id: CHANNEL },
    ]);
    assert.deepEqual(created.out.event?.message?.deliveries.map((d) => [d.recipient, d.status]), [[`slack:${TEAM}/${CHANNEL}`, 'queued']]);
    assert.equal(slack.calls.length, 0, 'nothing is posted before the relay runs');

    assert.equal(await relay.runOnce(), 1);

    const calls = slack.callsTo('chat.postMessage');
    assert.equal(calls.length, 1);
    const call = calls[0]!;
    assert.equal(call.token, BOT_TOKEN);
    assert.equal(call.params['channel'], CHANNEL);
    assert.equal(call.params['thread_ts'], undefined, 'a new conversation starts its own thread');
    const text = String(call.params['text']);
    assert.ok(text.includes('Need a hand'), text);
    assert.ok(text.includes('Is order &lt;42&gt; &amp; co ready?'), `mrkdwn is escaped: ${text}`);
    assert.ok(text.includes('Administrator'), `the author is named: ${text}`);
    const metadata = call.params['metadata'] as { event_type?: string; event_payload?: { event_id?: string; side_conversation_id?: string } };
    assert.equal(metadata.event_type, 'sideline_message');
    assert.equal(metadata.event_payload?.event_id, createEventId);
    assert.equal(metadata.event_payload?.side_conversation_id, scId);
    // Only the post: no history lookup on a first attempt, no files.
    assert.deepEqual(slack.calls.map((c) => c.method), ['chat.postMessage']);

    firstTs = String(call.response['ts']);
    assert.equal(firstTs, '1700000000.000100');
    assert.equal((await sideConversationRow(t.db, scId)).thread_ref, firstTs);

    const row = await outboxOf(t.db, createEventId);
    assert.equal(row.status, 'delivered');
    assert.equal(row.attempts, 1);
    assert.equal(row.last_error, null);
    const [event] = await eventsOf(t, ticketId, scId);
    assert.equal(event?.id, createEventId);
    assert.deepEqual(event?.message?.deliveries.map((d) => [d.recipient, d.status, d.reason]), [[`slack:${TEAM}/${CHANNEL}`, 'sent', null]]);
  });

  it('posts an API reply into the thread (thread_ts = the first post ts)', async () => {
    slack.clearCalls();
    const replyId = await replyOk(t, ticketId, scId, { body: 'Any news?' });
    assert.equal(await relay.runOnce(), 1);
    const calls = slack.callsTo('chat.postMessage');
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.params['channel'], CHANNEL);
    assert.equal(calls[0]!.params['thread_ts'], firstTs);
    assert.equal(calls[0]!.params['text'], '*Administrator*: Any news?');
    assert.equal((calls[0]!.params['metadata'] as { event_payload?: { event_id?: string } }).event_payload?.event_id, replyId);
    assert.equal(calls[0]!.token, BOT_TOKEN);
    assert.equal((await outboxOf(t.db, replyId)).status, 'delivered');
    const reply = (await eventsOf(t, ticketId, scId)).find((e) => e.id === replyId);
    assert.deepEqual(reply?.message?.deliveries.map((d) => d.status), ['sent']);
  });

  it('uploads a file bound to a reply into the thread (getUploadURLExternal, upload, completeUploadExternal)', async () => {
    slack.clearCalls();
    const content = Buffer.from(`invoice line 1\ninvoice line 2 ${randomBytes(4).toString('hex')}\n`);
    const body = multipartFile('invoice.txt', 'text/plain', content);
    const up = await t.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', payload: body.payload, headers: body.headers });
    expectStatus(up, 201);
    const upload = up.json<Upload>();
    const replyId = await replyOk(t, ticketId, scId, { body: 'Invoice attached', attachment_ids: [upload.id] });

    assert.equal(await relay.runOnce(), 1);
    assert.deepEqual(
      slack.calls.map((c) => c.method),
      ['chat.postMessage', 'files.getUploadURLExternal', 'files.completeUploadExternal'],
    );
    assert.equal(slack.callsTo('chat.postMessage')[0]!.params['thread_ts'], firstTs);

    const getUrl = slack.callsTo('files.getUploadURLExternal')[0]!;
    assert.equal(getUrl.token, BOT_TOKEN);
    assert.equal(getUrl.params['filename'], 'invoice.txt');
    assert.equal(Number(getUrl.params['length']), content.length);
    const fileId = String(getUrl.response['file_id']);

    assert.equal(slack.uploads.length, 1);
    const sent = slack.uploads[0]!;
    assert.equal(sent.fileId, fileId);
    assert.ok(sent.body.includes(content), 'the upload POST carries the file bytes');

    const complete = slack.callsTo('files.completeUploadExternal')[0]!;
    assert.equal(complete.token, BOT_TOKEN);
    assert.equal(complete.params['channel_id'], CHANNEL);
    assert.equal(complete.params['thread_ts'], firstTs);
    const files = complete.params['files'] as Array<{ id: string; title?: string }>;
    assert.deepEqual(files.map((f) => f.id), [fileId]);
    assert.equal(files[0]!.title, 'invoice.txt');

    assert.equal((await outboxOf(t.db, replyId)).status, 'delivered');
    const reply = (await eventsOf(t, ticketId, scId)).find((e) => e.id === replyId);
    assert.deepEqual(reply?.message?.attachments.map((a) => a.file_name), ['invoice.txt']);
    assert.deepEqual(reply?.message?.deliveries.map((d) => d.status), ['sent']);
  });

  it('answers url_verification with its challenge when signed', async () => {
    const res = await sendEvent({ token: 'legacy', challenge: 'chal-3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' });
    expectStatus(res, 200);
    assert.deepEqual(res.json(), { challenge: 'chal-3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' });
  });

  it('records a signed thread message as a reply via slack, named from users.info; a redelivery adds nothing', async () => {
    slack.clearCalls();
    const before = await writeCounts(t.db);
    const envelope = messageEvent('Ev0SLACK0001', { user: 'U1', text: 'On it', ts: '1700000000.000200', thread_ts: firstTs });
    const res = await sendEvent(envelope);
    expectStatus(res, 200);
    assert.deepEqual(res.json(), { ok: true });

    const infos = slack.callsTo('users.info');
    assert.equal(infos.length, 1);
    assert.equal(infos[0]!.params['user'], 'U1');
    assert.equal(infos[0]!.token, BOT_TOKEN);

    const events = await eventsOf(t, ticketId, scId);
    const reply = events.at(-1)!;
    assert.equal(reply.type, 'reply');
    assert.equal(reply.via, 'slack');
    assert.deepEqual(reply.actor, { user_id: null, name: 'Pat Slack', email: 'pat@vendor.example' });
    assert.equal(reply.message?.body, 'On it');
    assert.equal(reply.message?.from.name, 'Pat Slack');
    assert.equal(reply.message?.from.email, 'pat@vendor.example');
    assert.deepEqual(reply.message?.deliveries, [], 'an inbound message is not sent back out');

    const afterFirst = await writeCounts(t.db);
    assert.equal(afterFirst['side_conversation_events'], before['side_conversation_events']! + 1);
    assert.equal(afterFirst['inbound_events_seen'], before['inbound_events_seen']! + 1);
    assert.equal(afterFirst['outbox'], before['outbox'], 'nothing queued for Slack');
    assert.equal(await relay.runOnce(), 0);

    // Slack retries the same event_id: answered, not recorded again.
    const again = await sendEvent(envelope);
    expectStatus(again, 200);
    assert.deepEqual(await writeCounts(t.db), afterFirst);
    assert.equal((await eventsOf(t, ticketId, scId)).length, events.length);
  });

  it('ignores bot messages, messages outside known threads and message_changed edits (200, no event)', async () => {
    const before = await writeCounts(t.db);
    const ignored = [
      messageEvent('Ev0IGNORE0001', { user: 'UBOT0001', bot_id: 'BBOT0001', text: 'our own post', ts: '1700000000.000301', thread_ts: firstTs }),
      messageEvent('Ev0IGNORE0002', { user: 'U1', text: 'elsewhere', ts: '1700000000.000302', thread_ts: '1600000000.000001' }),
      messageEvent('Ev0IGNORE0003', { user: 'U1', text: 'not a reply', ts: '1700000000.000303' }),
      messageEvent('Ev0IGNORE0004', {
        subtype: 'message_changed',
        hidden: true,
        ts: '1700000000.000304',
        message: { type: 'message', user: 'U1', text: 'On it (edited)', ts: '1700000000.000200', thread_ts: firstTs },
        previous_message: { type: 'message', user: 'U1', text: 'On it', ts: '1700000000.000200', thread_ts: firstTs },
      }),
      messageEvent('Ev0IGNORE0005', { user: 'U1', text: 'same thread, other channel', ts: '1700000000.000305', thread_ts: firstTs, channel: 'C000OTHER' }),
    ];
    for (const envelope of ignored) {
      const res = await sendEvent(envelope);
      expectStatus(res, 200);
      assert.deepEqual(res.json(), { ok: true }, String(envelope['event_id']));
    }
    assert.deepEqual(await writeCounts(t.db), before);
  });

  it('refuses unsigned, wrongly signed, stale and unknown-team requests with 401 and writes nothing', async () => {
    slack.clearCalls();
    const before = await writeCounts(t.db);
    const envelope = messageEvent('Ev0FORGED0001', { user: 'U1', text: 'Forged', ts: '1700000000.000400', thread_ts: firstTs });
    const raw = JSON.stringify(envelope);
    const stale = String(nowSeconds() - 6 * 60);
    const cases: Array<{ label: string; res: LightMyRequestResponse }> = [
      { label: 'unsigned', res: await sendEvent(raw, { signature: null }) },
      { label: 'signature without timestamp', res: await t.request({ method: 'POST', url: '/integrations/slack/events', auth: null, headers: { 'content-type': 'application/json', 'x-slack-signature': signSlack(SIGNING_SECRET, String(nowSeconds()), raw) }, payload: raw }) },
      { label: 'wrong secret', res: await sendEvent(raw, { secret: 'not-the-signing-secret' }) },
      { label: 'tampered body', res: await sendEvent(raw.replace('Forged', 'Forgex'), { signature: signSlack(SIGNING_SECRET, String(nowSeconds()), raw) }) },
      { label: 'stale (6 minutes)', res: await sendEvent(raw, { timestamp: stale, signature: signSlack(SIGNING_SECRET, stale, raw) }) },
      { label: 'unknown team', res: await sendEvent({ ...envelope, team_id: 'T999NOPE' }) },
      { label: 'url_verification wrongly signed', res: await sendEvent({ challenge: 'x', type: 'url_verification' }, { secret: 'nope' }) },
    ];
    for (const { label, res } of cases) {
      assert.equal(res.statusCode, 401, `${label}: ${res.body}`);
      assert.deepEqual(res.json(), UNAUTHORIZED, label);
    }
    assert.deepEqual(await writeCounts(t.db), before);
    assert.equal(slack.calls.length, 0, 'no users.info for refused requests');
  });

  it('waits for Retry-After when Slack answers ratelimited, then delivers on the next run', async () => {
    slack.clearCalls();
    const { scId: id, eventId } = await createScOk(t, ticketId, { subject: 'Rate limited', body: 'Slow down', to: [{ slack_workspace_id: TEAM, slack_channel_id: 'C0RATE' }] });
    slack.fail('chat.postMessage', { kind: 'ratelimited', retryAfter: 7 });
    assert.equal(await relay.runOnce(), 1);
    assert.equal(slack.callsTo('chat.postMessage')[0]?.status, 429);

    const row = await outboxOf(t.db, eventId);
    assert.equal(row.status, 'pending');
    assert.equal(row.attempts, 1);
    assert.equal(row.last_error, 'ratelimited');
    assert.equal(row.claimed_until, null);
    const ahead = await secondsAhead(t.db, row.id);
    assert.ok(ahead > 6 && ahead < 9, `next_attempt_at is ${ahead}s ahead, expected about 7`);
    assert.deepEqual((await eventsOf(t, ticketId, id))[0]?.message?.deliveries.map((d) => d.status), ['queued']);
    assert.equal(await relay.runOnce(), 0, 'not due before Retry-After');

    await makeDue(t.db, row.id);
    assert.equal(await relay.runOnce(), 1);
    const done = await outboxOf(t.db, eventId);
    assert.equal(done.status, 'delivered');
    assert.equal(done.attempts, 2);
    assert.equal(postsFor(eventId).length, 1);
    assert.deepEqual((await eventsOf(t, ticketId, id))[0]?.message?.deliveries.map((d) => [d.recipient, d.status]), [[`slack:${TEAM}/C0RATE`, 'sent']]);
    assert.equal((await sideConversationRow(t.db, id)).thread_ref, postsFor(eventId)[0]!.ts);
  });

  it('fails for good on channel_not_found, with the reason on the delivery', async () => {
    slack.clearCalls();
    const { scId: id, eventId } = await createScOk(t, ticketId, { subject: 'Gone', body: 'Anyone?', to: [{ slack_workspace_id: TEAM, slack_channel_id: 'C0GONE' }] });
    slack.fail('chat.postMessage', { kind: 'error', error: 'channel_not_found' });
    assert.equal(await relay.runOnce(), 1);
    const row = await outboxOf(t.db, eventId);
    assert.equal(row.status, 'failed');
    assert.equal(row.attempts, 1);
    assert.equal(row.last_error, 'channel_not_found');
    const [event] = await eventsOf(t, ticketId, id);
    assert.deepEqual(event?.message?.deliveries.map((d) => [d.recipient, d.status, d.reason]), [[`slack:${TEAM}/C0GONE`, 'failed', 'channel_not_found']]);
    assert.equal((await sideConversationRow(t.db, id)).thread_ref, null);
    assert.equal(await relay.runOnce(), 0);
    assert.equal(slack.callsTo('chat.postMessage').length, 1);
  });

  it('never posts twice: a relay that dies after Slack took the post finds it via conversations.history on the retry', async () => {
    slack.clearCalls();
    const { scId: id, eventId } = await createScOk(t, ticketId, { subject: 'Crash test', body: 'Post me once', to: [{ slack_workspace_id: TEAM, slack_channel_id: 'C0CRASH' }] });

    // The relay claims the row and delivers, then "dies" before recording the outcome.
    const claimed = await relay.claim();
    assert.equal(claimed.length, 1);
    assert.equal(claimed[0]!.event_id, eventId);
    const outcome = await deliverSlack.deliver(claimed[0]!);
    assert.equal(outcome.kind, 'delivered');
    assert.equal(postsFor(eventId).length, 1);
    const original = postsFor(eventId)[0]!;
    assert.equal((await outboxOf(t.db, eventId)).status, 'pending');

    // Its lease runs out; the row is claimed again (attempt 2).
    await t.db.updateTable('outbox').set({ claimed_until: sql`now() - interval '1 second'` }).where('event_id', '=', eventId).execute();
    assert.equal(await relay.runOnce(), 1);

    const history = slack.callsTo('conversations.history');
    assert.equal(history.length, 1);
    assert.equal(history[0]!.params['channel'], 'C0CRASH');
    assert.equal(history[0]!.params['include_all_metadata'], 'true');
    assert.equal(history[0]!.token, BOT_TOKEN);
    assert.equal(postCallsFor(eventId).length, 1, 'chat.postMessage was called once for this event');
    assert.equal(postsFor(eventId).length, 1);
    const row = await outboxOf(t.db, eventId);
    assert.equal(row.status, 'delivered');
    assert.equal(row.attempts, 2);
    assert.equal((await sideConversationRow(t.db, id)).thread_ref, original.ts);
    assert.deepEqual((await eventsOf(t, ticketId, id))[0]?.message?.deliveries.map((d) => d.status), ['sent']);
  });

  it('never uploads a file twice: a relay that dies after the post and its file went out re-sends neither', async () => {
    slack.clearCalls();
    const content = Buffer.from(`packing slip ${randomBytes(4).toString('hex')}\n`);
    const body = multipartFile('slip.txt', 'text/plain', content);
    const up = await t.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', payload: body.payload, headers: body.headers });
    expectStatus(up, 201);
    const replyId = await replyOk(t, ticketId, scId, { body: 'Slip attached', attachment_ids: [up.json<Upload>().id] });

    // Post and file both reach Slack; the relay dies before recording.
    const claimed = await relay.claim();
    assert.deepEqual(claimed.map((r) => r.event_id), [replyId]);
    assert.equal((await deliverSlack.deliver(claimed[0]!)).kind, 'delivered');
    assert.equal(postsFor(replyId).length, 1);
    assert.equal(slack.callsTo('files.completeUploadExternal').length, 1);
    assert.equal(slack.uploads.length, 1);

    await t.db.updateTable('outbox').set({ claimed_until: sql`now() - interval '1 second'` }).where('event_id', '=', replyId).execute();
    assert.equal(await relay.runOnce(), 1);
    assert.equal((await outboxOf(t.db, replyId)).status, 'delivered');
    assert.equal(postCallsFor(replyId).length, 1, 'the message is not posted again');
    // The file was already shared into the thread by the first attempt.
    assert.equal(slack.callsTo('files.completeUploadExternal').length, 1, 'the file is shared into the thread a second time');
    assert.equal(slack.uploads.length, 1);
  });

  it('never posts a reply twice: Slack took it but answered 500, the retry finds it via conversations.replies', async () => {
    slack.clearCalls();
    const replyId = await replyOk(t, ticketId, scId, { body: 'Only once please' });
    slack.fail('chat.postMessage', { kind: 'http', status: 500, record: true });
    assert.equal(await relay.runOnce(), 1);
    assert.equal(postsFor(replyId).length, 1, 'the fake took the post');
    const row = await outboxOf(t.db, replyId);
    assert.equal(row.status, 'pending');
    assert.equal(row.last_error, 'HTTP 500');
    assert.ok((await secondsAhead(t.db, row.id)) > 0);

    await makeDue(t.db, row.id);
    assert.equal(await relay.runOnce(), 1);
    const replies = slack.callsTo('conversations.replies');
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.params['channel'], CHANNEL);
    assert.equal(replies[0]!.params['ts'], firstTs);
    assert.equal(replies[0]!.params['include_all_metadata'], 'true');
    assert.equal(postCallsFor(replyId).length, 1, 'chat.postMessage was called once for this reply');
    assert.equal(postsFor(replyId).length, 1);
    assert.equal(postsFor(replyId)[0]!.thread_ts, firstTs);
    const done = await outboxOf(t.db, replyId);
    assert.equal(done.status, 'delivered');
    assert.equal(done.attempts, 2);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Microsoft Teams
// ---------------------------------------------------------------------------------------------

describe(`Microsoft Teams side conversations (${STORE_KIND})`, () => {
  let t: TestApp;
  let teams: FakeTeams;
  let relay: Relay;
  const encryptionKey = randomBytes(32).toString('hex');
  const box = SecretBox.fromEnv(encryptionKey)!;
  const KID = 'test-key-1';
  let privateKey: CryptoKey;
  let foreignKey: CryptoKey;
  let ticketId: number;
  let scId = '';
  let conversationId = '';
  let activityId = '';

  async function sign(claims: JWTPayload & { aud?: string | string[] }, key: CryptoKey = privateKey, kid = KID): Promise<string> {
    const { exp, ...rest } = claims;
    let jwt = new SignJWT({ serviceurl: teams.serviceUrl, ...rest })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuedAt(nowSeconds() - 60)
      .setNotBefore(nowSeconds() - 60);
    if (claims.iss === undefined) jwt = jwt.setIssuer(ISSUER);
    if (claims.aud === undefined) jwt = jwt.setAudience(APP_ID);
    jwt = jwt.setExpirationTime(exp ?? nowSeconds() + 3600);
    return jwt.sign(key);
  }

  function activity(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      type: 'message',
      id,
      timestamp: new Date().toISOString(),
      serviceUrl: teams.serviceUrl,
      channelId: 'msteams',
      from: { id: '29:user', name: 'Pat Teams', aadObjectId: '00000000-0000-0000-0000-000000000001' },
      conversation: { id: conversationId, isGroup: true, conversationType: 'channel', tenantId: TENANT },
      recipient: { id: `28:${APP_ID}`, name: 'Sideline' },
      textFormat: 'plain',
      text: '<p>Done</p>',
      channelData: { channel: { id: TEAMS_CHANNEL }, tenant: { id: TENANT } },
      ...extra,
    };
  }

  function sendActivity(body: Record<string, unknown>, token: string | null) {
    return t.request({
      method: 'POST',
      url: '/integrations/teams/messages',
      auth: null,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      payload: body,
    });
  }

  before(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    foreignKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256' };
    teams = await startFakeTeams({ keys: [jwk] });
    t = await startTestApp({ encryptionKey, outboundAllowPrivate: true, teamsOpenIdMetadataUrl: teams.openIdMetadataUrl, teamsJwtIssuer: ISSUER });
    relay = new Relay({
      db: t.db,
      logger: silentLogger,
      channels: { msteams: createTeamsChannel({ db: t.db, box, connector: new TeamsConnector({ tokenUrl: teams.tokenUrl, scope: SCOPE, allowPrivate: true }) }) },
    });
    ticketId = await newTicket(t);
  });
  after(async () => {
    await t?.close();
    await teams?.close();
  });

  it('connects the bot with the fake connector as service_url', async () => {
    const res = await connectTeams(t, { app_id: APP_ID, app_password: APP_PASSWORD, tenant_id: TENANT, service_url: teams.serviceUrl });
    expectStatus(res, 200);
    const bot = res.json<{ teams_bot: TeamsBotOut }>().teams_bot;
    assert.equal(bot.service_url, teams.serviceUrl.replace(/\/$/, ''));
    assert.ok(!res.body.includes(APP_PASSWORD));
  });

  it('starts a thread in the channel: a client-credentials token, then POST /v3/conversations; marks it sent', async () => {
    const created = await createScOk(t, ticketId, { subject: 'Need a hand', body: 'Can you check order 42?', to: [{ msteams_channel_id: TEAMS_CHANNEL }] });
    scId = created.scId;
    assert.deepEqual(created.out.side_conversation.participants, [
      { user_id: t.admin.id, name: 'Administrator', email: 'admin@example.com' },
      { user_id: null, name: null, email: null, msteams_channel_id: TEAMS_CHANNEL },
    ]);
    assert.equal(teams.connectorCalls.length, 0);

    assert.equal(await relay.runOnce(), 1);

    assert.equal(teams.tokenRequests.length, 1);
    const tokenRequest = teams.tokenRequests[0]!;
    assert.match(tokenRequest.contentType, /^application\/x-www-form-urlencoded/);
    assert.deepEqual(tokenRequest.params, { grant_type: 'client_credentials', client_id: APP_ID, client_secret: APP_PASSWORD, scope: SCOPE });

    assert.equal(teams.connectorCalls.length, 1);
    const start = teams.connectorCalls[0]!;
    assert.equal(start.kind, 'start');
    assert.equal(start.path, '/teams/v3/conversations');
    assert.equal(start.authorization, `Bearer ${teams.issuedTokens[0]}`);
    assert.equal(start.status, 201);
    const channelData = start.body['channelData'] as { channel?: { id?: string }; tenant?: { id?: string } };
    assert.equal(channelData.channel?.id, TEAMS_CHANNEL);
    assert.equal(channelData.tenant?.id, TENANT);
    assert.equal(start.body['isGroup'], true);
    const act = start.body['activity'] as { type?: string; text?: string };
    assert.equal(act.type, 'message');
    assert.ok(act.text?.includes('Need a hand'), act.text);
    assert.ok(act.text?.includes('Can you check order 42?'), act.text);

    conversationId = String(start.response['id']);
    activityId = String(start.response['activityId']);
    assert.equal(conversationId, `${TEAMS_CHANNEL};messageid=1700000000001`);
    assert.equal(activityId, '1700000000001');
    const sc = await sideConversationRow(t.db, scId);
    assert.equal(sc.thread_ref, conversationId);
    assert.equal(sc.thread_reply_to, activityId);

    const row = await outboxOf(t.db, created.eventId);
    assert.equal(row.status, 'delivered');
    const [event] = await eventsOf(t, ticketId, scId);
    assert.deepEqual(event?.message?.deliveries.map((d) => [d.recipient, d.status, d.reason]), [[`msteams:${TEAMS_CHANNEL}`, 'sent', null]]);
  });

  it('posts an API reply to the first activity (…/activities/{activityId}, replyToId), reusing the token', async () => {
    const replyId = await replyOk(t, ticketId, scId, { body: 'Any news?' });
    assert.equal(await relay.runOnce(), 1);
    assert.equal(teams.connectorCalls.length, 2);
    const reply = teams.connectorCalls[1]!;
    assert.equal(reply.kind, 'reply');
    assert.equal(reply.conversationId, conversationId);
    assert.equal(reply.activityId, activityId);
    assert.equal(reply.path, `/teams/v3/conversations/${encodeURIComponent(conversationId)}/activities/${activityId}`);
    assert.equal(reply.body['replyToId'], activityId);
    assert.equal(reply.body['type'], 'message');
    assert.equal(reply.body['text'], '**Administrator**: Any news?');
    assert.equal(reply.status, 201);
    assert.equal(teams.tokenRequests.length, 1, 'the token is cached');
    assert.equal((await outboxOf(t.db, replyId)).status, 'delivered');
  });

  it('records a Bot Framework activity with a valid token as a reply via msteams; the same id again adds nothing', async () => {
    const before = await writeCounts(t.db);
    const token = await sign({});
    const res = await sendActivity(activity('act-1'), token);
    expectStatus(res, 200);
    const events = await eventsOf(t, ticketId, scId);
    const reply = events.at(-1)!;
    assert.equal(reply.type, 'reply');
    assert.equal(reply.via, 'msteams');
    assert.equal(reply.message?.body, 'Done');
    assert.deepEqual(reply.actor, { user_id: null, name: 'Pat Teams', email: null });
    assert.equal(reply.message?.from.name, 'Pat Teams');
    assert.deepEqual(reply.message?.deliveries, []);
    const afterFirst = await writeCounts(t.db);
    assert.equal(afterFirst['side_conversation_events'], before['side_conversation_events']! + 1);
    assert.equal(afterFirst['inbound_events_seen'], before['inbound_events_seen']! + 1);
    assert.equal(afterFirst['outbox'], before['outbox'], 'nothing queued back to Teams');

    const again = await sendActivity(activity('act-1', { text: '<p>Done again</p>' }), token);
    expectStatus(again, 200);
    assert.deepEqual(await writeCounts(t.db), afterFirst);
    assert.equal((await eventsOf(t, ticketId, scId)).length, events.length);
  });

  it("ignores the bot's own messages and activities outside any known conversation", async () => {
    const before = await writeCounts(t.db);
    const token = await sign({});
    const own = await sendActivity(activity('act-bot', { from: { id: `28:${APP_ID}`, name: 'Sideline' }, text: 'our own post' }), token);
    expectStatus(own, 200);
    const elsewhere = await sendActivity(activity('act-elsewhere', { conversation: { id: `${TEAMS_CHANNEL};messageid=1600000000000` } }), token);
    expectStatus(elsewhere, 200);
    const typing = await sendActivity(activity('act-typing', { type: 'typing', text: undefined }), token);
    expectStatus(typing, 200);
    assert.deepEqual(await writeCounts(t.db), before);
  });

  it('refuses a bad signature, a wrong audience, an expired token, a wrong issuer and a missing token with 401', async () => {
    const before = await writeCounts(t.db);
    const now = nowSeconds();
    const cases: Array<{ label: string; token: string | null; raw?: string }> = [
      { label: 'signed with another key (same kid)', token: await sign({}, foreignKey) },
      { label: 'signed with an unknown kid', token: await sign({}, foreignKey, 'unknown-kid') },
      { label: 'wrong audience', token: await sign({ aud: 'someone-else' }) },
      { label: 'expired 10 minutes ago', token: await sign({ exp: now - 600 }) },
      { label: 'wrong issuer', token: await sign({ iss: 'https://sts.windows.net/evil/' }) },
      { label: 'missing', token: null },
      { label: 'not a JWT', token: 'not-a-jwt' },
      { label: 'Basic credentials', token: null, raw: `Basic ${Buffer.from('admin@example.com:correct horse battery staple').toString('base64')}` },
    ];
    for (const [index, c] of cases.entries()) {
      const body = activity(`act-refused-${index}`, { text: `<p>${c.label}</p>` });
      const res =
        c.raw !== undefined
          ? await t.request({ method: 'POST', url: '/integrations/teams/messages', auth: c.raw, payload: body })
          : await sendActivity(body, c.token);
      assert.equal(res.statusCode, 401, `${c.label}: ${res.body}`);
      assert.deepEqual(res.json(), UNAUTHORIZED, c.label);
    }
    assert.deepEqual(await writeCounts(t.db), before);
  });

  it('accepts a token expired less than the 5-minute clock tolerance ago', async () => {
    const before = await writeCounts(t.db);
    const res = await sendActivity(activity('act-tolerance', { text: 'Within tolerance' }), await sign({ exp: nowSeconds() - 120 }));
    expectStatus(res, 200);
    const reply = (await eventsOf(t, ticketId, scId)).at(-1)!;
    assert.equal(reply.message?.body, 'Within tolerance');
    assert.equal((await writeCounts(t.db))['side_conversation_events'], before['side_conversation_events']! + 1);
  });

  it('fetches a new token once when the connector refuses a revoked one (401), then posts', async () => {
    const replyId = await replyOk(t, ticketId, scId, { body: 'After a token rotation' });
    const tokensBefore = teams.tokenRequests.length;
    const callsBefore = teams.connectorCalls.length;
    teams.revokeTokens();
    assert.equal(await relay.runOnce(), 1);
    assert.equal(teams.tokenRequests.length, tokensBefore + 1);
    const calls = teams.connectorCalls.slice(callsBefore);
    assert.deepEqual(calls.map((c) => [c.kind, c.status]), [['reply', 401], ['reply', 201]]);
    assert.equal(calls[1]!.authorization, `Bearer ${teams.issuedTokens.at(-1)}`);
    assert.equal(calls[1]!.body['text'], '**Administrator**: After a token rotation');
    assert.equal((await outboxOf(t.db, replyId)).status, 'delivered');
  });

  it('retries at Retry-After when the connector answers 429, then delivers', async () => {
    const { scId: id, eventId } = await createScOk(t, ticketId, { subject: 'Throttled', body: 'Later', to: [{ msteams_channel_id: TEAMS_CHANNEL }] });
    teams.failConnector({ status: 429, retryAfter: 11 });
    assert.equal(await relay.runOnce(), 1);
    const row = await outboxOf(t.db, eventId);
    assert.equal(row.status, 'pending');
    assert.equal(row.last_error, 'connector answered HTTP 429');
    const ahead = await secondsAhead(t.db, row.id);
    assert.ok(ahead > 10 && ahead < 13, `next_attempt_at is ${ahead}s ahead, expected about 11`);
    assert.deepEqual((await eventsOf(t, ticketId, id))[0]?.message?.deliveries.map((d) => d.status), ['queued']);
    assert.equal((await sideConversationRow(t.db, id)).thread_ref, null);
    assert.equal(await relay.runOnce(), 0);

    await makeDue(t.db, row.id);
    assert.equal(await relay.runOnce(), 1);
    const done = await outboxOf(t.db, eventId);
    assert.equal(done.status, 'delivered');
    assert.equal(done.attempts, 2);
    const sc = await sideConversationRow(t.db, id);
    const last = teams.connectorCalls.at(-1)!;
    assert.equal(last.kind, 'start');
    assert.equal(sc.thread_ref, String(last.response['id']));
    assert.deepEqual((await eventsOf(t, ticketId, id))[0]?.message?.deliveries.map((d) => d.status), ['sent']);
  });

  it('retries with backoff when the connector answers 500', async () => {
    const { eventId } = await createScOk(t, ticketId, { subject: 'Server error', body: 'Try again', to: [{ msteams_channel_id: TEAMS_CHANNEL }] });
    teams.failConnector({ status: 500 });
    assert.equal(await relay.runOnce(), 1);
    const row = await outboxOf(t.db, eventId);
    assert.equal(row.status, 'pending');
    assert.equal(row.last_error, 'connector answered HTTP 500');
    const ahead = await secondsAhead(t.db, row.id);
    // Default backoff for attempt 1: 5 s × [0.5, 1).
    assert.ok(ahead > 1 && ahead <= 5.5, `next_attempt_at is ${ahead}s ahead`);
    await makeDue(t.db, row.id);
    assert.equal(await relay.runOnce(), 1);
    assert.equal((await outboxOf(t.db, eventId)).status, 'delivered');
  });

  it('fails for good when the connector answers 403, with the reason on the delivery', async () => {
    const { scId: id, eventId } = await createScOk(t, ticketId, { subject: 'Forbidden', body: 'No access', to: [{ msteams_channel_id: TEAMS_CHANNEL }] });
    teams.failConnector({ status: 403 });
    assert.equal(await relay.runOnce(), 1);
    const row = await outboxOf(t.db, eventId);
    assert.equal(row.status, 'failed');
    assert.equal(row.last_error, 'connector answered HTTP 403');
    const [event] = await eventsOf(t, ticketId, id);
    assert.deepEqual(event?.message?.deliveries.map((d) => [d.recipient, d.status, d.reason]), [[`msteams:${TEAMS_CHANNEL}`, 'failed', 'connector answered HTTP 403']]);
    assert.equal(await relay.runOnce(), 0);
  });
});
