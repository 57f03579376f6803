/**
 * The console's admin pages in a real browser against a real Sideline process: Users (create an
 * agent who then signs in, deactivate one whose session is then refused, reset a password),
 * Groups (add and remove members), API tokens (shown once, working with Basic email/token,
 * revoked), Integrations (Slack and Teams, then offered in the New side conversation form), what an
 * agent sees instead, and axe-core on each page.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { request, type APIRequestContext, type Locator, type Page } from 'playwright-core';
import { STORE_KIND } from '../helpers/app.js';
import { startFakeSlack, type FakeSlack } from '../helpers/fake-slack.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, browserSkipReason, seriousViolations, signIn, startConsoleWorld, type ConsoleWorld } from './harness.js';

const skip = browserSkipReason();
if (skip) console.log(`# skipped: ${skip}`);

const AGENT = { name: 'Alex Agent', email: 'alex@helpdesk.test', password: 'alex-first-password' };
const ADMIN_PAGES = ['Users', 'Groups', 'API tokens', 'Integrations'];

/** Waits (up to 30 s) for a form control to show `value`: the page re-reads after a change. */
async function valueBecomes(control: Locator, value: string): Promise<void> {
  let seen = '';
  for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    seen = await control.inputValue();
    if (seen === value) return;
  }
  assert.equal(seen, value);
}

interface UserListBody {
  users: Array<{ id: number; name: string; email: string; role: string; suspended: boolean }>;
}

describe(`the console's admin pages in Chromium (${STORE_KIND})`, { skip }, () => {
  let world: ConsoleWorld;
  let page: Page;
  /** The agent's own cookie jar: a session that lives on while the admin works in the browser. */
  let agentClient: APIRequestContext;
  /** Slack's Web API for the connected workspace: its channels, and where the relay posts. */
  let slack: FakeSlack;

  before(async () => {
    slack = await startFakeSlack();
    world = await startConsoleWorld({
      // The integrations seal their secrets with it; the Teams bot's service URL and the fake Slack are loopback ones.
      env: { SIDELINE_ENCRYPTION_KEY: randomBytes(32).toString('hex'), OUTBOUND_ALLOW_PRIVATE: 'true', SLACK_API_URL: `${slack.url}/api/` },
    });
    page = await world.context.newPage();
    agentClient = await request.newContext({ baseURL: world.baseUrl });
  });
  after(async () => {
    await agentClient?.dispose();
    await world?.close();
    await slack?.close();
  });

  const nav = () => page.getByRole('navigation', { name: 'Main' });
  const openAdminPage = async (name: string) => {
    await nav().getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { level: 1, name }).waitFor();
  };
  const signOut = async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/agent\/login$/);
  };
  const agentId = async () => {
    const list = await world.apiCall<UserListBody>('GET', '/api/v2/users?role=agent');
    const agent = list.body.users.find((u) => u.email === AGENT.email);
    assert.ok(agent, 'the agent exists');
    return agent;
  };

  it('an admin sees the admin pages in the navigation; the Users page lists the admin and is accessible', async () => {
    await signIn(page, world.baseUrl, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.waitForURL(/\/agent\/tickets$/);
    for (const name of ADMIN_PAGES) await nav().getByRole('link', { name, exact: true }).waitFor();
    await openAdminPage('Users');
    const people = page.getByRole('table', { name: 'Agents and admins' });
    await people.getByRole('row').filter({ hasText: ADMIN_EMAIL }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'no serious or critical axe violation on the Users page');
  });

  it('an admin creates an agent, and the agent signs in', async () => {
    await page.getByLabel('Name', { exact: true }).fill(AGENT.name);
    await page.getByLabel('Email', { exact: true }).fill(AGENT.email);
    await page.getByLabel('Role').selectOption('agent');
    await page.getByLabel('Password', { exact: true }).fill(AGENT.password);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('status').filter({ hasText: `${AGENT.name} can now sign in as ${AGENT.email}` }).waitFor();
    const row = page.getByRole('table', { name: 'Agents and admins' }).getByRole('row').filter({ hasText: AGENT.email });
    await row.waitFor();
    assert.equal(await row.getByLabel(`Role of ${AGENT.name}`).inputValue(), 'agent');
    assert.equal((await agentId()).role, 'agent');

    await signOut();
    await signIn(page, world.baseUrl, AGENT.email, AGENT.password);
    await page.waitForURL(/\/agent\/tickets$/);
    await page.getByText(`${AGENT.name} (agent)`).waitFor();
  });

  it('an agent does not see the admin pages, and reaching one directly says admins only', async () => {
    await nav().getByRole('link', { name: 'Tickets', exact: true }).waitFor();
    for (const name of ADMIN_PAGES) assert.equal(await nav().getByRole('link', { name, exact: true }).count(), 0, `no ${name} link for an agent`);
    for (const path of ['users', 'groups', 'api_tokens', 'integrations']) {
      await page.goto(`${world.baseUrl}/agent/admin/${path}`);
      await page.getByText('Admins only').waitFor();
      assert.equal(await page.getByRole('button', { name: /^(Create|Connect)/ }).count(), 0, `no admin controls on /admin/${path}`);
    }
    assert.deepEqual(await seriousViolations(page), [], 'no serious or critical axe violation on the admins-only page');
    await signOut();
  });

  it("an admin deactivates an agent, and that agent's session is refused on its next request", async () => {
    const session = await agentClient.post('/api/v2/sideline/session', { data: { email: AGENT.email, password: AGENT.password } });
    assert.equal(session.status(), 201);
    assert.equal((await agentClient.get('/api/v2/users/me')).status(), 200, 'the agent is signed in');

    await signIn(page, world.baseUrl, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.waitForURL(/\/agent\/tickets$/);
    await openAdminPage('Users');
    const row = page.getByRole('table', { name: 'Agents and admins' }).getByRole('row').filter({ hasText: AGENT.email });
    // It asks first, saying what happens; Cancel changes nothing.
    await row.getByRole('button', { name: `Deactivate ${AGENT.name}` }).click();
    const confirm = page.getByRole('dialog', { name: `Deactivate ${AGENT.name}?` });
    await confirm.getByText('is signed out at once, their API tokens stop working').waitFor();
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    assert.equal((await agentId()).suspended, false, 'Cancel does not deactivate');
    assert.equal((await agentClient.get('/api/v2/users/me')).status(), 200, 'the agent is still signed in');
    await row.getByRole('button', { name: `Deactivate ${AGENT.name}` }).click();
    await confirm.getByRole('button', { name: 'Deactivate', exact: true }).click();
    await confirm.waitFor({ state: 'detached' });
    await row.getByText('Deactivated').waitFor();
    assert.equal((await agentId()).suspended, true);

    const refused = await agentClient.get('/api/v2/users/me');
    assert.equal(refused.status(), 401, "the agent's session is refused");
    const again = await agentClient.post('/api/v2/sideline/session', { data: { email: AGENT.email, password: AGENT.password } });
    assert.equal(again.status(), 401, 'a deactivated agent cannot sign in');

    await row.getByRole('button', { name: `Reactivate ${AGENT.name}` }).click();
    await row.getByText('Active', { exact: true }).waitFor();
    const back = await agentClient.post('/api/v2/sideline/session', { data: { email: AGENT.email, password: AGENT.password } });
    assert.equal(back.status(), 201, 'a reactivated agent signs in again');
  });

  it("an admin resets an agent's password: the old one is refused, the new one signs in", async () => {
    const row = page.getByRole('table', { name: 'Agents and admins' }).getByRole('row').filter({ hasText: AGENT.email });
    await row.getByRole('button', { name: `Reset password for ${AGENT.name}` }).click();
    const dialog = page.getByRole('dialog', { name: `Reset password for ${AGENT.name}` });
    await dialog.getByLabel('New password').fill('alex-second-password');
    await dialog.getByRole('button', { name: 'Set password' }).click();
    await dialog.getByText('The password is changed').waitFor();
    await dialog.getByRole('button', { name: 'Done' }).click();

    assert.equal((await agentClient.get('/api/v2/users/me')).status(), 401, 'the session of the old password ended');
    const old = await agentClient.post('/api/v2/sideline/session', { data: { email: AGENT.email, password: AGENT.password } });
    assert.equal(old.status(), 401);
    const fresh = await agentClient.post('/api/v2/sideline/session', { data: { email: AGENT.email, password: 'alex-second-password' } });
    assert.equal(fresh.status(), 201);
  });

  it("Users: pages past the first 100 with Zendesk's next_page, and changes a role after asking", async () => {
    // 100 more agents: 102 agents and admins, 100 a page.
    const names = Array.from({ length: 100 }, (_, i) => `Paged Agent ${String(i + 1).padStart(3, '0')}`);
    // Ten at a time, but the last two one after the other: the list is in id order, and the two
    // made last (Paged Agent 099 and 100) must be the two on page 2.
    for (let i = 0; i < names.length; ) {
      const size = i < names.length - 2 ? Math.min(10, names.length - 2 - i) : 1;
      const batch = await Promise.all(
        names.slice(i, i + size).map((name, j) => world.apiCall('POST', '/api/v2/users', { user: { name, email: `paged${i + j + 1}@helpdesk.test`, role: 'agent' } })),
      );
      assert.deepEqual(batch.map((r) => r.status), Array(batch.length).fill(201));
      i += size;
    }
    await page.reload();
    const people = page.getByRole('table', { name: 'Agents and admins' });
    await page.getByText('Showing 1–100 of 102').waitFor();
    assert.equal(await people.getByRole('row').count(), 101, 'a header row and 100 people');
    assert.equal(await people.getByRole('row').filter({ hasText: 'Paged Agent 100' }).count(), 0, 'the last one is on page 2');

    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Showing 101–102 of 102').waitFor();
    const last = people.getByRole('row').filter({ hasText: 'Paged Agent 100' });
    await last.waitFor();
    assert.equal(await people.getByRole('row').filter({ hasText: ADMIN_EMAIL }).count(), 0, 'page 2 holds only the rest');

    // Agent → admin, after the question.
    const role = last.getByLabel('Role of Paged Agent 100');
    await role.selectOption('admin');
    const ask = page.getByRole('dialog', { name: 'Make Paged Agent 100 an admin?' });
    await ask.getByText('They can then manage users, groups, API tokens and integrations.').waitFor();
    await ask.getByRole('button', { name: 'Change role' }).click();
    await ask.waitFor({ state: 'detached' });
    const pagedRole = async () => {
      for (const n of [1, 2]) {
        const list = await world.apiCall<UserListBody>('GET', `/api/v2/users?page=${n}&per_page=100`);
        const found = list.body.users.find((u) => u.name === 'Paged Agent 100');
        if (found) return found.role;
      }
      return undefined;
    };
    assert.equal(await pagedRole(), 'admin');
    await valueBecomes(role, 'admin');

    // Cancel leaves the role alone.
    await role.selectOption('end-user');
    const demote = page.getByRole('dialog', { name: 'Make Paged Agent 100 an end user?' });
    await demote.getByText('can no longer sign in to this console').waitFor();
    await demote.getByRole('button', { name: 'Cancel' }).click();
    await demote.waitFor({ state: 'detached' });
    assert.equal(await pagedRole(), 'admin');
    await valueBecomes(role, 'admin');

    // Admin → end user: off the agents-and-admins list, on the end users'.
    await role.selectOption('end-user');
    await demote.getByRole('button', { name: 'Change role' }).click();
    await page.getByText('Showing 101–101 of 101').waitFor();
    assert.equal(await pagedRole(), 'end-user');
    await page.getByLabel('Show').selectOption('end-user');
    await page.getByRole('table', { name: 'End users' }).getByRole('row').filter({ hasText: 'Paged Agent 100' }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'no serious or critical axe violation on the paged Users page');
    await page.getByLabel('Show').selectOption('staff');
    await page.getByText('Showing 1–100 of 101').waitFor();
  });

  it('Groups: shows the empty state, creates a group, adds members and removes one', async () => {
    await openAdminPage('Groups');
    await page.getByText('No groups yet').waitFor();
    await page.getByLabel('Group name').fill('Hardware');
    await page.getByRole('button', { name: 'Create group' }).click();
    const group = page.getByRole('region', { name: 'Hardware' });
    await group.getByText('No members yet.').waitFor();
    await group.getByLabel('Add to Hardware').selectOption({ label: AGENT.name });
    await group.getByRole('button', { name: 'Add member to Hardware' }).click();
    await group.getByRole('list', { name: 'Members of Hardware' }).getByText(AGENT.name).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'no serious or critical axe violation on the Groups page');
    // The admin joins too, then leaves again.
    await group.getByLabel('Add to Hardware').selectOption({ label: 'Administrator' });
    await group.getByRole('button', { name: 'Add member to Hardware' }).click();
    const memberList = group.getByRole('list', { name: 'Members of Hardware' });
    await memberList.getByText('Administrator').waitFor();
    await memberList.getByRole('button', { name: 'Remove Administrator from Hardware' }).click();
    await memberList.getByText('Administrator').waitFor({ state: 'detached' });

    const groups = await world.apiCall<{ groups: Array<{ id: number; name: string }> }>('GET', '/api/v2/groups');
    const hardware = groups.body.groups.find((g) => g.name === 'Hardware');
    assert.ok(hardware);
    const members = await world.apiCall<{ group_memberships: Array<{ user_id: number }> }>('GET', `/api/v2/group_memberships?group_id=${hardware.id}`);
    assert.deepEqual(members.body.group_memberships.map((m) => m.user_id), [(await agentId()).id]);
  });

  it('API tokens: creates a token shown once that works with Basic email/token, then revokes it', async () => {
    await openAdminPage('API tokens');
    await page.getByText('No API tokens yet').waitFor();
    await page.getByLabel('Description').fill('CRM sync');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByLabel('New API token');
    await shown.waitFor();
    const token = await shown.inputValue();
    assert.match(token, /^\S{20,}$/, 'the token is shown');
    const table = page.getByRole('table', { name: 'API tokens' });
    await table.getByRole('row').filter({ hasText: 'CRM sync' }).getByText(`…${token.slice(-4)}`).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'no serious or critical axe violation on the API tokens page');

    const withToken = (secret: string) =>
      fetch(`${world.baseUrl}/api/v2/users/me`, { headers: { authorization: `Basic ${Buffer.from(`${ADMIN_EMAIL}/token:${secret}`).toString('base64')}` } });
    const me = await withToken(token);
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { user: { email: string } }).user.email, ADMIN_EMAIL);

    // Shown once: a reload lists its hint only.
    await page.reload();
    await table.getByRole('row').filter({ hasText: 'CRM sync' }).waitFor();
    assert.equal(await page.getByLabel('New API token').count(), 0, 'the token is not shown again');
    assert.equal(await page.getByText(token).count(), 0);

    // The token acts as the admin: revoking it moves the admin's credentials on, which ends their
    // sessions too (as it does for every credential change); the dialog says so.
    await table.getByRole('button', { name: 'Revoke CRM sync' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke token' });
    await dialog.getByText('your sessions end too').waitFor();
    await dialog.getByRole('button', { name: 'Revoke', exact: true }).click();
    await page.waitForURL(/\/agent\/login$/);
    assert.equal((await withToken(token)).status, 401, 'a revoked token is refused');
    await page.getByLabel('Email').fill(ADMIN_EMAIL);
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/agent\/admin\/api_tokens$/);
    await page.getByText('No API tokens yet').waitFor();
  });

  it("Integrations: connects a Slack workspace and the Teams bot; New side conversation lists the workspace's real channels (a typed id when Slack will not say); disconnecting asks first", async () => {
    await openAdminPage('Integrations');
    await page.getByText('No Slack workspace connected').waitFor();
    await page.getByText('No Teams bot connected').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'no serious or critical axe violation on the Integrations page');

    const slackForm = page.getByRole('form', { name: 'Connect a Slack workspace' });
    await slackForm.getByLabel('Team id').fill('T0CONSOLE');
    await slackForm.getByLabel('Workspace name').fill('Vendor Co');
    await slackForm.getByLabel('Bot token').fill('xoxb-console-test-token');
    await slackForm.getByLabel('Signing secret').fill('console-signing-secret');
    await slackForm.getByRole('button', { name: 'Connect workspace' }).click();
    const workspaces = page.getByRole('table', { name: 'Connected Slack workspaces' });
    await workspaces.getByRole('row').filter({ hasText: 'Vendor Co' }).getByText('T0CONSOLE').waitFor();
    assert.equal(await page.getByText('xoxb-console-test-token').count(), 0, 'the bot token is not shown');

    const teams = page.getByRole('form', { name: 'Connect the Teams bot' });
    await teams.getByLabel('App id').fill('console-app');
    await teams.getByLabel('App password').fill('console-app-password');
    await teams.getByLabel('Tenant id').fill('console-tenant');
    await teams.getByLabel('Service URL').fill('http://127.0.0.1:9/teams/');
    await teams.getByRole('button', { name: 'Connect Teams bot' }).click();
    await page.getByText('Teams bot connected').waitFor();

    // An agent's New side conversation form offers what is connected.
    slack.channels.push(
      { id: 'C0VENDOR', name: 'vendors', is_member: true },
      { id: 'G0ESCAL', name: 'escalations', is_private: true, is_member: true },
      { id: 'C0GENERAL', name: 'general', is_member: false },
    );
    const created = await world.apiCall<{ ticket: { id: number } }>('POST', '/api/v2/tickets', { ticket: { subject: 'Ask the vendor', comment: { body: 'x' } } });
    assert.equal(created.status, 201);
    const slackTargets = async () => {
      const list = await world.apiCall<{ side_conversations: Array<{ participants: Array<{ slack_workspace_id?: string; slack_channel_id?: string }> }> }>(
        'GET',
        `/api/v2/tickets/${created.body.ticket.id}/side_conversations`,
      );
      return list.body.side_conversations.flatMap((sc) => sc.participants.filter((p) => p.slack_channel_id).map((p) => [p.slack_workspace_id, p.slack_channel_id]));
    };

    // When Slack will not list the channels, the form says so and takes a typed channel id.
    slack.fail('conversations.list', { kind: 'error', error: 'missing_scope' });
    await page.goto(`${world.baseUrl}/agent/tickets/${created.body.ticket.id}`);
    await page.getByRole('button', { name: 'New side conversation' }).click();
    await page.getByLabel('Type').selectOption('slack');
    const workspace = page.getByLabel('Workspace', { exact: true });
    await workspace.locator('option', { hasText: 'Vendor Co (T0CONSOLE)' }).waitFor({ state: 'attached' });
    assert.equal(await workspace.inputValue(), 'T0CONSOLE', 'the connected workspace is chosen');
    await page.getByRole('status').filter({ hasText: 'could not be listed (Slack refused to list the channels: missing_scope)' }).waitFor();
    slack.clearCalls();
    await page.getByRole('textbox', { name: 'Channel', exact: true }).fill('C0VENDOR');
    await page.getByLabel('Message').fill('Do you have toner?');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.getByRole('list', { name: 'Thread' }).getByText('Do you have toner?').waitFor();
    assert.deepEqual(await slackTargets(), [['T0CONSOLE', 'C0VENDOR']]);

    // Next time the channel list is the workspace's real channels, read from Slack.
    await page.reload();
    await page.getByRole('button', { name: 'New side conversation' }).click();
    await page.getByLabel('Type').selectOption('slack');
    const channel = page.getByRole('combobox', { name: 'Channel', exact: true });
    await channel.locator('option', { hasText: '#escalations (private)' }).waitFor({ state: 'attached' });
    const offered = await channel.locator('option').allTextContents();
    assert.deepEqual(offered, ['Choose a channel…', '#escalations (private)', '#vendors', '#general', 'Another channel (type its id)…']);
    assert.deepEqual(
      slack.callsTo('conversations.list').map((c) => c.token),
      ['xoxb-console-test-token'],
      'listed once, with the workspace bot token',
    );
    // "Another channel" takes an id, offering the channels used before.
    await channel.selectOption({ label: 'Another channel (type its id)…' });
    await page.getByLabel('Channel id').waitFor();
    await page.locator('datalist#slack-channels option[value="C0VENDOR"]').waitFor({ state: 'attached' });
    await channel.selectOption({ label: '#escalations (private)' });
    assert.equal(await page.getByLabel('Channel id').count(), 0);
    assert.deepEqual(await seriousViolations(page), [], 'no serious or critical axe violation on the Slack form');
    await page.getByLabel('Subject').fill('Escalate the toner');
    await page.getByLabel('Message').fill('Escalating this one.');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.getByRole('list', { name: 'Thread' }).getByText('Escalating this one.').waitFor();
    assert.deepEqual((await slackTargets()).sort(), [['T0CONSOLE', 'C0VENDOR'], ['T0CONSOLE', 'G0ESCAL']]);

    // Teams has its own channel field.
    await page.getByRole('button', { name: 'New side conversation' }).click();
    await page.getByLabel('Type').selectOption('msteams');
    await page.getByLabel('Channel', { exact: true }).waitFor();
    assert.equal(await page.getByText('No Microsoft Teams bot is connected').count(), 0);
    assert.deepEqual(await seriousViolations(page), [], 'no serious or critical axe violation on the New side conversation form');
    await page.getByRole('button', { name: 'Cancel' }).click();

    // Disconnecting asks first; Cancel keeps the connection.
    await openAdminPage('Integrations');
    await workspaces.getByRole('button', { name: 'Disconnect Vendor Co' }).click();
    const askSlack = page.getByRole('dialog', { name: 'Disconnect Vendor Co?' });
    await askSlack.getByText("forgets this workspace's bot token").waitFor();
    await askSlack.getByRole('button', { name: 'Cancel' }).click();
    await askSlack.waitFor({ state: 'detached' });
    assert.equal((await world.apiCall<{ slack_workspaces: unknown[] }>('GET', '/api/v2/sideline/integrations/slack')).body.slack_workspaces.length, 1, 'Cancel keeps it');
    await page.getByRole('button', { name: 'Disconnect Teams bot' }).click();
    const askTeams = page.getByRole('dialog', { name: 'Disconnect the Teams bot?' });
    await askTeams.getByRole('button', { name: 'Cancel' }).click();
    await askTeams.waitFor({ state: 'detached' });
    assert.equal((await world.apiCall('GET', '/api/v2/sideline/integrations/teams')).status, 200, 'Cancel keeps the bot');

    await workspaces.getByRole('button', { name: 'Disconnect Vendor Co' }).click();
    await askSlack.getByRole('button', { name: 'Disconnect', exact: true }).click();
    await page.getByText('No Slack workspace connected').waitFor();
    await page.getByRole('button', { name: 'Disconnect Teams bot' }).click();
    await askTeams.getByRole('button', { name: 'Disconnect', exact: true }).click();
    await page.getByText('No Teams bot connected').waitFor();
    const left = await world.apiCall<{ slack_workspaces: unknown[] }>('GET', '/api/v2/sideline/integrations/slack');
    assert.deepEqual(left.body.slack_workspaces, []);
    assert.equal((await world.apiCall('GET', '/api/v2/sideline/integrations/teams')).status, 404);
  });
});
