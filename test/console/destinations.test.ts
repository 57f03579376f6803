import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { expectStatus } from '../helpers/api.js';
import { signIn } from '../helpers/console.js';

// GET /api/v2/sideline/side_conversation_destinations: what the console's New side conversation
// form offers for Slack and Teams: connected workspaces and bot, and the channels used before.

interface Destinations {
  slack_workspaces: Array<{ team_id: string; name: string | null; channel_ids: string[] }>;
  msteams: { connected: boolean; channel_ids: string[] };
}

let t: TestApp;
let agent: TestUser;
let ticketId = 0;

async function destinations(auth?: string, host?: string): Promise<Destinations> {
  const res = await t.request({
    method: 'GET',
    url: '/api/v2/sideline/side_conversation_destinations',
    ...(auth ? { auth } : {}),
    ...(host ? { headers: { host } } : {}),
  });
  expectStatus(res, 200);
  return res.json<Destinations>();
}

async function connectSlack(teamId: string, name: string): Promise<void> {
  const res = await t.request({
    method: 'POST',
    url: '/api/v2/sideline/integrations/slack',
    payload: { slack_workspace: { team_id: teamId, bot_token: `xoxb-${teamId}`, signing_secret: `secret-${teamId}`, name } },
  });
  expectStatus(res, 201);
}

async function startSc(to: Record<string, string>): Promise<void> {
  const res = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations`, auth: agent.auth, payload: { message: { body: 'Hello', to: [to] } } });
  expectStatus(res, 201);
}

describe(`side conversation destinations (${STORE_KIND})`, () => {
  before(async () => {
    // The Teams bot's service URL is a loopback one: nothing is delivered in this test.
    t = await startTestApp({ outboundAllowPrivate: true });
    agent = await t.createUser('agent', 'Dee Agent');
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Where to ask', comment: { body: 'x' } } } });
    expectStatus(ticket, 201);
    ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
  });
  after(async () => t.close());

  it('is empty before anything is connected', async () => {
    assert.deepEqual(await destinations(agent.auth), { slack_workspaces: [], msteams: { connected: false, channel_ids: [] } });
  });

  it('lists connected Slack workspaces to agents, with the channels used before, most recent first', async () => {
    await connectSlack('T111AAA', 'Vendor Co');
    await connectSlack('T222BBB', 'Partner Inc');
    assert.deepEqual((await destinations(agent.auth)).slack_workspaces, [
      { team_id: 'T111AAA', name: 'Vendor Co', channel_ids: [] },
      { team_id: 'T222BBB', name: 'Partner Inc', channel_ids: [] },
    ]);
    await startSc({ slack_workspace_id: 'T111AAA', slack_channel_id: 'C0000001' });
    await startSc({ slack_workspace_id: 'T111AAA', slack_channel_id: 'C0000002' });
    await startSc({ slack_workspace_id: 'T222BBB', slack_channel_id: 'C0000003' });
    await startSc({ slack_workspace_id: 'T111AAA', slack_channel_id: 'C0000001' });
    const slack = (await destinations(agent.auth)).slack_workspaces;
    assert.deepEqual(slack.find((w) => w.team_id === 'T111AAA')!.channel_ids, ['C0000001', 'C0000002']);
    assert.deepEqual(slack.find((w) => w.team_id === 'T222BBB')!.channel_ids, ['C0000003']);
  });

  it('drops a workspace once it is disconnected', async () => {
    expectStatus(await t.request({ method: 'DELETE', url: '/api/v2/sideline/integrations/slack/T222BBB' }), 204);
    assert.deepEqual((await destinations(agent.auth)).slack_workspaces.map((w) => w.team_id), ['T111AAA']);
  });

  it('says whether the Teams bot is connected, with its channels used before', async () => {
    const bot = await t.request({
      method: 'PUT',
      url: '/api/v2/sideline/integrations/teams',
      payload: { teams_bot: { app_id: 'app-1', app_password: 'pw-1', tenant_id: 'tenant-1', service_url: 'http://127.0.0.1:9/teams/' } },
    });
    expectStatus(bot, 200);
    assert.deepEqual((await destinations(agent.auth)).msteams, { connected: true, channel_ids: [] });
    await startSc({ msteams_channel_id: '19:first@thread.tacv2' });
    await startSc({ msteams_channel_id: '19:second@thread.tacv2' });
    assert.deepEqual((await destinations(agent.auth)).msteams, { connected: true, channel_ids: ['19:second@thread.tacv2', '19:first@thread.tacv2'] });
    expectStatus(await t.request({ method: 'DELETE', url: '/api/v2/sideline/integrations/teams' }), 204);
    assert.deepEqual((await destinations(agent.auth)).msteams, { connected: false, channel_ids: [] }, 'no channels without a bot to post with');
  });

  it('works with the console session, refuses end-users (403) and the signed-out (401)', async () => {
    const session = await signIn(t, agent);
    const viaCookie = await t.request({ method: 'GET', url: '/api/v2/sideline/side_conversation_destinations', auth: null, headers: { cookie: session.cookie } });
    expectStatus(viaCookie, 200);
    const customer = await t.createUser('end-user', 'Cy Customer');
    expectStatus(await t.request({ method: 'GET', url: '/api/v2/sideline/side_conversation_destinations', auth: customer.auth }), 403);
    expectStatus(await t.request({ method: 'GET', url: '/api/v2/sideline/side_conversation_destinations', auth: null }), 401);
  });

  it('keeps accounts apart', async () => {
    const other = await t.createAccount('elsewhere');
    const host = 'elsewhere.example.com';
    assert.deepEqual(await destinations(other.admin.auth, host), { slack_workspaces: [], msteams: { connected: false, channel_ids: [] } });
    const theirs = await t.request({
      method: 'POST',
      url: '/api/v2/sideline/integrations/slack',
      auth: other.admin.auth,
      headers: { host },
      payload: { slack_workspace: { team_id: 'T333CCC', bot_token: 'xoxb-other', signing_secret: 'secret-other' } },
    });
    expectStatus(theirs, 201);
    assert.deepEqual((await destinations(other.admin.auth, host)).slack_workspaces, [{ team_id: 'T333CCC', name: null, channel_ids: [] }]);
    assert.deepEqual((await destinations(agent.auth)).slack_workspaces.map((w) => w.team_id), ['T111AAA']);
  });
});
