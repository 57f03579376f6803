import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { expectStatus } from '../helpers/api.js';
import { signIn } from '../helpers/console.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';

// GET /api/v2/sideline/side_conversation_destinations/slack/{team_id}/channels: a connected
// workspace's channels, read from Slack's conversations.list (the loopback fake) with that
// workspace's bot token, through the outbound guard.

interface ChannelsBody {
  slack_channels: Array<{ id: string; name: string; is_private: boolean; is_member: boolean }>;
  complete: boolean;
}

const path = (teamId: string) => `/api/v2/sideline/side_conversation_destinations/slack/${teamId}/channels`;

async function connectSlack(t: TestApp, teamId: string, auth?: string, host?: string): Promise<void> {
  const res = await t.request({
    method: 'POST',
    url: '/api/v2/sideline/integrations/slack',
    ...(auth ? { auth } : {}),
    ...(host ? { headers: { host } } : {}),
    payload: { slack_workspace: { team_id: teamId, bot_token: `xoxb-${teamId}`, signing_secret: `secret-${teamId}`, name: teamId } },
  });
  expectStatus(res, 201);
}

describe(`Slack channels for New side conversation (${STORE_KIND})`, () => {
  let slack: FakeSlack;
  let t: TestApp;
  let agent: TestUser;

  before(async () => {
    slack = await startFakeSlack();
    // The fake listens on loopback: the guard lets it through only with OUTBOUND_ALLOW_PRIVATE.
    t = await startTestApp({ slackApiUrl: `${slack.url}/api/`, outboundAllowPrivate: true });
    agent = await t.createUser('agent', 'Dee Agent');
  });
  after(async () => {
    await t?.close();
    await slack?.close();
  });

  it("lists the workspace's unarchived public and private channels by name, every page, with its own bot token", async () => {
    await connectSlack(t, 'T111AAA');
    slack.channels.push(
      { id: 'C0VENDOR', name: 'vendors', is_member: true },
      { id: 'G0ESCAL', name: 'escalations', is_private: true, is_member: true },
      { id: 'C0GENERAL', name: 'general', is_member: false },
      { id: 'C0OLD', name: 'old-stuff', is_member: true, is_archived: true },
    );
    // 450 more: three pages of 200.
    for (let i = 0; i < 450; i++) slack.channels.push({ id: `C1${String(i).padStart(6, '0')}`, name: `zz-bulk-${String(i).padStart(3, '0')}` });
    slack.clearCalls();

    const res = await t.request({ method: 'GET', url: path('T111AAA'), auth: agent.auth });
    expectStatus(res, 200);
    const body = res.json<ChannelsBody>();
    assert.equal(body.complete, true);
    assert.equal(body.slack_channels.length, 453, 'every unarchived channel of every page');
    assert.deepEqual(body.slack_channels.slice(0, 3), [
      { id: 'G0ESCAL', name: 'escalations', is_private: true, is_member: true },
      { id: 'C0GENERAL', name: 'general', is_private: false, is_member: false },
      { id: 'C0VENDOR', name: 'vendors', is_private: false, is_member: true },
    ]);
    assert.ok(!body.slack_channels.some((c) => c.id === 'C0OLD'), 'no archived channel');

    const calls = slack.callsTo('conversations.list');
    assert.equal(calls.length, 3);
    assert.ok(calls.every((c) => c.token === 'xoxb-T111AAA'), "the workspace's own bot token");
    assert.equal(calls[0]!.params['types'], 'public_channel,private_channel');
    assert.equal(calls[0]!.params['cursor'], undefined);
    assert.ok(calls[1]!.params['cursor'] && calls[2]!.params['cursor'], 'the next pages by cursor');
  });

  it('answers again from a minute-long cache without asking Slack', async () => {
    slack.clearCalls();
    const res = await t.request({ method: 'GET', url: path('T111AAA'), auth: agent.auth });
    expectStatus(res, 200);
    assert.equal(res.json<ChannelsBody>().slack_channels.length, 453);
    assert.equal(slack.callsTo('conversations.list').length, 0);
  });

  it("says 502 SlackUnavailable with Slack's reason when Slack refuses, and with Retry-After when it rate limits", async () => {
    await connectSlack(t, 'T222BBB');
    slack.fail('conversations.list', { kind: 'error', error: 'missing_scope' });
    const refused = await t.request({ method: 'GET', url: path('T222BBB'), auth: agent.auth });
    expectStatus(refused, 502);
    assert.deepEqual(refused.json(), { error: 'SlackUnavailable', description: 'Slack refused to list the channels: missing_scope' });

    slack.fail('conversations.list', { kind: 'ratelimited', retryAfter: 7 });
    const limited = await t.request({ method: 'GET', url: path('T222BBB'), auth: agent.auth });
    expectStatus(limited, 502);
    assert.equal(limited.json<{ error: string }>().error, 'SlackUnavailable');
    assert.equal(limited.headers['retry-after'], '7');

    // A failure is not cached: the next listing asks again.
    const ok = await t.request({ method: 'GET', url: path('T222BBB'), auth: agent.auth });
    expectStatus(ok, 200);
    assert.equal(ok.json<ChannelsBody>().slack_channels.length, 453);
  });

  it('is 404 for a workspace that is not connected (or malformed), and once it is disconnected', async () => {
    expectStatus(await t.request({ method: 'GET', url: path('T999ZZZ'), auth: agent.auth }), 404);
    expectStatus(await t.request({ method: 'GET', url: path('not%20a%20team'), auth: agent.auth }), 404);
    expectStatus(await t.request({ method: 'DELETE', url: '/api/v2/sideline/integrations/slack/T222BBB' }), 204);
    const gone = await t.request({ method: 'GET', url: path('T222BBB'), auth: agent.auth });
    expectStatus(gone, 404);
    assert.deepEqual(gone.json(), { error: 'RecordNotFound', description: 'Not found' });
  });

  it('works with the console session, refuses end-users (403) and the signed-out (401)', async () => {
    const session = await signIn(t, agent);
    expectStatus(await t.request({ method: 'GET', url: path('T111AAA'), auth: null, headers: { cookie: session.cookie } }), 200);
    const customer = await t.createUser('end-user', 'Cy Customer');
    expectStatus(await t.request({ method: 'GET', url: path('T111AAA'), auth: customer.auth }), 403);
    expectStatus(await t.request({ method: 'GET', url: path('T111AAA'), auth: null }), 401);
  });

  it("keeps accounts apart: another account's agent cannot list this account's workspace", async () => {
    const other = await t.createAccount('elsewhere');
    const host = 'elsewhere.example.com';
    expectStatus(await t.request({ method: 'GET', url: path('T111AAA'), auth: other.admin.auth, headers: { host } }), 404);
  });
});

describe(`Slack channels through the outbound guard (${STORE_KIND})`, () => {
  let slack: FakeSlack;
  let t: TestApp;

  before(async () => {
    slack = await startFakeSlack();
    // Without OUTBOUND_ALLOW_PRIVATE the loopback "Slack" is a private address: refused.
    t = await startTestApp({ slackApiUrl: `${slack.url}/api/`, outboundAllowPrivate: false });
  });
  after(async () => {
    await t?.close();
    await slack?.close();
  });

  it('refuses a Slack API URL on a private address with 502, and never calls it', async () => {
    await connectSlack(t, 'T333CCC');
    slack.channels.push({ id: 'C0VENDOR', name: 'vendors', is_member: true });
    const res = await t.request({ method: 'GET', url: path('T333CCC') });
    expectStatus(res, 502);
    const body = res.json<{ error: string; description: string }>();
    assert.equal(body.error, 'SlackUnavailable');
    assert.match(body.description, /private, loopback or link-local address/);
    assert.equal(slack.calls.length, 0, 'no request reached the private address');
  });
});
