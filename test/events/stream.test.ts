/**
 * The live event stream, GET /api/v2/sideline/stream (issue 12 §3, contracts.md): every committed
 * event from every road (API, inbound email, Slack, the relay's delivery status) arrives once, in
 * order, with its cursor; Last-Event-ID / ?after= replay with no gap and no duplicate; ?ticket_id=
 * filters; heartbeats; a consumer that stops reading is cut off; agents and admins only; and on
 * PostgreSQL a write made by another process reaches the stream through LISTEN/NOTIFY.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { DatabaseBlobStore } from '../../src/attachments/storage.js';
import { createSlackChannel } from '../../src/channels/slack/deliver.js';
import type { FeedMessage } from '../../src/events/presenter.js';
import { SecretBox } from '../../src/integrations/secret-box.js';
import { Relay, type RelayLogger } from '../../src/outbox/relay.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, countRows, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { expectStatus, FORBIDDEN, NOT_FOUND, UNAUTHORIZED } from '../helpers/api.js';
import type { WriteBody } from '../helpers/api-types.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';
import { startServer } from '../helpers/server.js';
import { openSse, type SseClient, type SseMessage } from '../helpers/sse.js';

const INBOUND_DOMAIN = 'inbound.test';
const INBOUND_SECRET = 'a-long-shared-secret-for-streams';
const TEAM = 'T0STREAM';
const CHANNEL = 'C0STREAM';
const SIGNING_SECRET = `sign-${randomBytes(12).toString('hex')}`;
const silentLogger: RelayLogger = { info() {}, warn() {}, error() {} };

function data(message: SseMessage): FeedMessage {
  return JSON.parse(message.data) as FeedMessage;
}

describe(`live event stream (${STORE_KIND})`, () => {
  let t: TestApp;
  let base: string;
  let agent: TestUser;
  let slack: FakeSlack;
  let relay: Relay;
  const encryptionKey = randomBytes(32).toString('hex');
  const box = SecretBox.fromEnv(encryptionKey)!;
  const open: SseClient[] = [];

  before(async () => {
    slack = await startFakeSlack();
    slack.users.set('U1', { id: 'U1', name: 'pat', real_name: 'Pat Slack', profile: { real_name: 'Pat Slack', display_name: 'pat', email: 'pat@vendor.example' } });
    t = await startTestApp(
      { encryptionKey, slackApiUrl: `${slack.url}/api/`, inboundDomain: INBOUND_DOMAIN, inboundEmailSecret: INBOUND_SECRET, inboundMaxBytes: 1_000_000 },
      { stream: { heartbeatMs: 150, maxBufferedBytes: 256 * 1024, stallMs: 2000 } },
    );
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    agent = await t.createUser('agent', 'Agent Smith');
    relay = new Relay({ db: t.db, logger: silentLogger, channels: { slack: createSlackChannel({ db: t.db, blobs: new DatabaseBlobStore(t.db), box, apiUrl: `${slack.url}/api/` }) } });
    const connected = await t.request({
      method: 'POST',
      url: '/api/v2/sideline/integrations/slack',
      payload: { slack_workspace: { team_id: TEAM, bot_token: 'xoxb-1-2-stream', signing_secret: SIGNING_SECRET, name: 'Vendor Co' } },
    });
    expectStatus(connected, 201);
  });
  after(async () => {
    for (const client of open) client.close();
    await t?.close();
    await slack?.close();
  });

  async function stream(query = '', headers: Record<string, string> = {}, auth = agent.auth): Promise<SseClient> {
    const client = await openSse(`${base}/api/v2/sideline/stream${query}`, { authorization: auth, ...headers });
    open.push(client);
    assert.equal(client.status, 200);
    // The stream is live once the hub knows the account's position: wait for the first heartbeat.
    await waitFor(() => client.comments.includes('ping'));
    return client;
  }

  async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > until) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function newTicket(subject = 'Printer on fire'): Promise<number> {
    const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject, comment: { body: 'It burns' } } } });
    expectStatus(res, 201);
    return res.json<{ ticket: { id: number } }>().ticket.id;
  }

  async function createSc(ticketId: number, message: Record<string, unknown> = { subject: 'Toner', body: 'Any toner?', to: [{ email: 'vendor@example.com' }] }): Promise<WriteBody> {
    const res = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations`, payload: { message }, auth: agent.auth });
    expectStatus(res, 201);
    return res.json<WriteBody>();
  }

  async function reply(ticketId: number, scId: string, body: string): Promise<WriteBody> {
    const res = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/reply`, payload: { message: { body } }, auth: agent.auth });
    expectStatus(res, 200);
    return res.json<WriteBody>();
  }

  it('refuses anonymous callers, end-users, unknown tickets and cursors it never sent', async () => {
    const endUser = await t.createUser('end-user', 'Eve');
    const anonymous = await t.request({ method: 'GET', url: '/api/v2/sideline/stream', auth: null });
    expectStatus(anonymous, 401);
    assert.deepEqual(anonymous.json(), UNAUTHORIZED);
    const forbidden = await t.request({ method: 'GET', url: '/api/v2/sideline/stream', auth: endUser.auth });
    expectStatus(forbidden, 403);
    assert.deepEqual(forbidden.json(), FORBIDDEN);
    const unknown = await t.request({ method: 'GET', url: '/api/v2/sideline/stream?ticket_id=999999', auth: agent.auth });
    expectStatus(unknown, 404);
    assert.deepEqual(unknown.json(), NOT_FOUND);
    const badHeader = await t.request({ method: 'GET', url: '/api/v2/sideline/stream', headers: { 'last-event-id': 'abc' }, auth: agent.auth });
    expectStatus(badHeader, 422);
    assert.ok(badHeader.json<{ details: Record<string, unknown> }>().details['Last-Event-ID']);
    const badQuery = await t.request({ method: 'GET', url: '/api/v2/sideline/stream?after=-1', auth: agent.auth });
    expectStatus(badQuery, 400);
    assert.equal(badQuery.json<{ error: string }>().error, 'InvalidParameter');
  });

  it('streams create, reply, state and subject changes made by the API, with the contract envelope', async () => {
    const client = await stream();
    assert.match(String(client.headers['content-type']), /^text\/event-stream/);
    const ticketId = await newTicket();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const replied = await reply(ticketId, scId, 'Still burning');
    expectStatus(await t.request({ method: 'PUT', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}`, payload: { side_conversation: { state: 'closed' } } }), 200);
    expectStatus(await t.request({ method: 'PUT', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}`, payload: { side_conversation: { subject: 'Toner, urgent' } } }), 200);

    const messages = await client.take(4);
    assert.deepEqual(messages.map((m) => m.event), [
      'side_conversation.created',
      'side_conversation.replied',
      'side_conversation.state_changed',
      'side_conversation.subject_changed',
    ]);
    const ids = messages.map((m) => Number(m.id));
    assert.ok(ids.every((id, i) => Number.isSafeInteger(id) && (i === 0 || id > ids[i - 1]!)), `cursors grow: ${ids.join(',')}`);
    const first = data(messages[0]!);
    assert.equal(first.type, 'side_conversation.created');
    assert.equal(first.account_id, t.accountId);
    assert.equal(first.ticket_id, ticketId);
    assert.ok(!Number.isNaN(Date.parse(first.time)));
    assert.match(first.id, /^[0-9a-f-]{36}$/);
    assert.equal(first.event.id, created.event!.id);
    assert.equal(first.event.message?.body, 'Any toner?');
    // The summary as Show answers it now.
    const show = await fetch(`${base}/api/v2/tickets/${ticketId}/side_conversations/${scId}`, { headers: { authorization: agent.auth } });
    assert.deepEqual(data(messages[3]!).side_conversation, ((await show.json()) as { side_conversation: unknown }).side_conversation);
    assert.equal(data(messages[1]!).event.id, replied.event!.id);
    assert.deepEqual(data(messages[2]!).event.updates, { state: 'closed' });
    assert.deepEqual(data(messages[3]!).event.updates, { subject: 'Toner, urgent' });
    // Nothing else (no duplicate) arrived, and the heartbeat keeps coming.
    const pings = client.comments.length;
    await waitFor(() => client.comments.length > pings);
    assert.equal(client.messages.length, 4);
  });

  it('streams a reply that came in by email, and nothing for a write that rolled back', async () => {
    const client = await stream();
    const ticketId = await newTicket('By mail');
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const { reply_token: token } = await t.db.selectFrom('side_conversations').select('reply_token').where('id', '=', scId).executeTakeFirstOrThrow();
    const raw = `From: Vendor <vendor@example.com>\r\nTo: reply+${token}@${INBOUND_DOMAIN}\r\nSubject: Re: Toner\r\nMessage-ID: <${randomUUID()}@vendor.example>\r\n\r\nToner ships tomorrow.\r\n`;
    const inbound = await t.request({ method: 'POST', url: '/api/v2/inbound/email', payload: raw, headers: { 'content-type': 'message/rfc822', authorization: `Bearer ${INBOUND_SECRET}` }, auth: null });
    expectStatus(inbound, 201);

    const feedBefore = await countRows(t.db, 'event_feed');
    await assert.rejects(
      t.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('side_conversation_events')
          .values({ id: randomUUID(), account_id: t.accountId, side_conversation_id: scId, ticket_id: ticketId, type: 'reply', via: 'api', actor_user_id: null, actor_name: 'x', actor_email: null, message: null, updates: null })
          .execute();
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await countRows(t.db, 'event_feed'), feedBefore, 'a rolled-back event leaves no feed row');

    const [createdMessage, replied] = await client.take(2);
    assert.equal(createdMessage!.event, 'side_conversation.created');
    assert.equal(replied!.event, 'side_conversation.replied');
    const event = data(replied!).event;
    assert.equal(event.via, 'email');
    assert.equal(event.message?.body, 'Toner ships tomorrow.');
    assert.equal(event.actor.email, 'vendor@example.com');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(client.messages.length, 2);
  });

  it('streams the delivery status the relay records and a reply from the Slack thread', async () => {
    const client = await stream();
    const ticketId = await newTicket('Slack');
    const created = await createSc(ticketId, { subject: 'Ask the channel', body: 'Anyone?', to: [{ slack_workspace_id: TEAM, slack_channel_id: CHANNEL }] });
    const scId = created.side_conversation.id;
    // Earlier tests' email rows have no channel on this relay: only the Slack row is due.
    await t.db.updateTable('outbox').set({ status: 'failed', last_error: 'left by an earlier test' }).where('status', '=', 'pending').where('channel', '<>', 'slack').execute();
    assert.equal(await relay.runOnce(), 1);
    const [, delivered] = await client.take(2);
    assert.equal(delivered!.event, 'side_conversation.delivery_changed');
    const deliveredData = data(delivered!);
    assert.equal(deliveredData.event.id, created.event!.id);
    assert.deepEqual(deliveredData.event.message?.deliveries.map((d) => d.status), ['sent']);

    const { thread_ref: threadTs } = await t.db.selectFrom('side_conversations').select('thread_ref').where('id', '=', scId).executeTakeFirstOrThrow();
    assert.ok(threadTs);
    const now = Math.floor(Date.now() / 1000);
    const envelope = JSON.stringify({
      token: 'x',
      team_id: TEAM,
      api_app_id: 'A0SIDELINE',
      type: 'event_callback',
      event_id: `Ev${randomBytes(5).toString('hex')}`,
      event_time: now,
      event: { type: 'message', channel: CHANNEL, channel_type: 'channel', user: 'U1', text: 'On it', ts: '1700000001.000200', event_ts: '1700000001.000200', thread_ts: threadTs },
    });
    const signature = `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${now}:${envelope}`).digest('hex')}`;
    const posted = await t.request({
      method: 'POST',
      url: '/integrations/slack/events',
      auth: null,
      headers: { 'content-type': 'application/json', 'x-slack-request-timestamp': String(now), 'x-slack-signature': signature },
      payload: envelope,
    });
    assert.ok(posted.statusCode < 300, posted.body);
    const [, , fromSlack] = await client.take(3);
    assert.equal(fromSlack!.event, 'side_conversation.replied');
    assert.equal(data(fromSlack!).event.via, 'slack');
    assert.equal(data(fromSlack!).event.message?.body, 'On it');
    assert.equal(data(fromSlack!).side_conversation.id, scId);
  });

  it('resumes after Last-Event-ID or ?after= with nothing lost and nothing doubled, and filters by ticket_id', async () => {
    const ticketId = await newTicket('Resume');
    const otherTicket = await newTicket('Other');
    const first = await stream();
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    await reply(ticketId, scId, 'one');
    const seen = await first.take(2);
    first.close();

    // Written while nobody listens.
    await reply(ticketId, scId, 'two');
    await createSc(otherTicket);
    await reply(ticketId, scId, 'three');

    const resumed = await stream('', { 'last-event-id': seen[1]!.id! });
    const missed = await resumed.take(3);
    assert.deepEqual(missed.map((m) => data(m).event.message?.body), ['two', 'Any toner?', 'three']);
    await reply(ticketId, scId, 'four');
    const [, , , live] = await resumed.take(4);
    assert.equal(data(live!).event.message?.body, 'four');

    const fromStart = await stream(`?after=${seen[0]!.id}&ticket_id=${ticketId}`);
    const replayed = await fromStart.take(4);
    assert.deepEqual(replayed.map((m) => data(m).event.message?.body), ['one', 'two', 'three', 'four']);
    assert.ok(replayed.every((m) => data(m).ticket_id === ticketId));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(resumed.messages.length, 4, 'no duplicate after the replay');
    assert.equal(fromStart.messages.length, 4, 'the other ticket is filtered out');
    const ids = resumed.messages.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('cuts off a consumer that stops reading, and it resumes by cursor', async () => {
    const ticketId = await newTicket('Firehose');
    const created = await createSc(ticketId);
    const scId = created.side_conversation.id;
    const hubCount = () => t.app.eventStreams.hub.subscriberCount;
    const before = hubCount();
    // A raw client that sends the request and then never reads.
    const url = new URL(base);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(`GET /api/v2/sideline/stream HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${agent.auth}\r\n\r\n`);
    socket.pause();
    await waitFor(() => hubCount() === before + 1);
    const big = 'x'.repeat(60_000);
    let i = 0;
    let closed = false;
    socket.on('close', () => (closed = true));
    for (; i < 200 && hubCount() > before; i++) await reply(ticketId, scId, `${i} ${big}`);
    await waitFor(() => hubCount() === before, 20_000);
    socket.destroy();
    assert.ok(closed || socket.destroyed);
    assert.ok(i < 200, 'cut off before the writer stopped');
    // The events are all in the store: a new stream from the cut-off point gets them.
    const catchUp = await openSse(`${base}/api/v2/sideline/stream?after=0&ticket_id=${ticketId}`, { authorization: agent.auth });
    open.push(catchUp);
    const replayed = await catchUp.take(3, 30_000);
    assert.equal(data(replayed[2]!).event.message?.body, `1 ${big}`);
  });

  it('reaches a stream with a write made by another process on the same PostgreSQL', { skip: STORE_KIND !== 'postgres' }, async () => {
    const client = await stream();
    const ticketId = await newTicket('Elsewhere');
    const other = await startServer({ DATABASE_URL: t.databaseUrl!, RELAY: 'off', SIDELINE_ADMIN_EMAIL: ADMIN_EMAIL, SIDELINE_ADMIN_PASSWORD: ADMIN_PASSWORD });
    try {
      const res = await fetch(`${other.baseUrl}/api/v2/tickets/${ticketId}/side_conversations`, {
        method: 'POST',
        headers: { authorization: t.admin.auth, 'content-type': 'application/json' },
        body: JSON.stringify({ message: { subject: 'From B', body: 'Written by the other process', to: [{ email: 'vendor@example.com' }] } }),
      });
      assert.equal(res.status, 201, await res.clone().text());
      // The write committed before its answer: from here the stream has at most a second.
      const answered = Date.now();
      const [message] = await client.take(1, 5000);
      assert.equal(data(message!).event.message?.body, 'Written by the other process');
      // LISTEN/NOTIFY, not the 5 s poll.
      assert.ok(Date.now() - answered < 1000, `arrived ${Date.now() - answered} ms after the answer`);
    } finally {
      other.kill('SIGTERM');
      await other.exited;
    }
  });
});
