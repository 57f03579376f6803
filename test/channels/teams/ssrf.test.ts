/**
 * SSRF through Microsoft Teams (issue 10): a service_url set through the API is where the relay
 * POSTs with a bearer token, so it must not be the metadata service, the private network or us.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { countRows, startTestApp, STORE_KIND, type TestApp } from '../../helpers/app.js';
import { expectStatus } from '../../helpers/api.js';
import type { WriteBody } from '../../helpers/api-types.js';
import { startFakeTeams, type FakeTeams } from '../../helpers/fake-teams.js';
import { SecretBox } from '../../../src/integrations/secret-box.js';
import { Relay, type RelayLogger } from '../../../src/outbox/relay.js';
import { createTeamsChannel } from '../../../src/channels/teams/deliver.js';
import { TeamsConnector } from '../../../src/channels/teams/connector.js';

const silentLogger: RelayLogger = { info() {}, warn() {}, error() {} };
const SCOPE = 'https://api.botframework.com/.default';
const CHANNEL = '19:ssrf@thread.tacv2';

interface ErrorBody {
  error: string;
  details?: Record<string, { description: string; error: string }[]>;
}

describe(`Teams service_url is refused on private addresses (${STORE_KIND})`, () => {
  const encryptionKey = randomBytes(32).toString('hex');
  const box = SecretBox.fromEnv(encryptionKey)!;
  let t: TestApp;
  let permissive: TestApp;
  let teams: FakeTeams;

  before(async () => {
    const pair = await generateKeyPair('RS256');
    teams = await startFakeTeams({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k', alg: 'RS256' }] });
    t = await startTestApp({ encryptionKey });
    permissive = await startTestApp({ encryptionKey, outboundAllowPrivate: true });
  });
  after(async () => {
    await t?.close();
    await permissive?.close();
    await teams?.close();
  });

  const connect = (app: TestApp, serviceUrl: string) =>
    app.request({ method: 'PUT', url: '/api/v2/sideline/integrations/teams', payload: { teams_bot: { app_id: 'app-ssrf', app_password: 'pw', tenant_id: 'tenant', service_url: serviceUrl } } });

  it('answers 422 on service_url for metadata, private, loopback and link-local targets, storing nothing', async () => {
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'https://10.0.0.1/teams', 'http://127.0.0.1:3978/teams', 'http://[::1]:80/', 'http://[::ffff:169.254.169.254]/', 'http://localhost:8080/', 'https://100.100.100.200/']) {
      const res = await connect(t, url);
      expectStatus(res, 422);
      const detail = res.json<ErrorBody>().details?.['service_url']?.[0];
      assert.ok(detail, `${url}: ${res.body}`);
      assert.match(detail.description, /private, loopback or link-local/);
      assert.match(detail.description, /OUTBOUND_ALLOW_PRIVATE/);
    }
    assert.equal(await countRows(t.db, 'teams_bots'), 0);
  });

  it('accepts a public service_url, and a loopback one when the operator allows private targets', async () => {
    expectStatus(await connect(t, 'https://smba.trafficmanager.net/teams/'), 200);
    expectStatus(await connect(permissive, teams.serviceUrl), 200);
  });

  it('the relay refuses to POST the bearer token to a private service_url already stored, and fails the delivery for good', async () => {
    // A row from before this check (or written by hand) points at the loopback fake.
    await t.db.updateTable('teams_bots').set({ service_url: teams.serviceUrl.replace(/\/$/, '') }).where('account_id', '=', t.accountId).execute();
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'SSRF', comment: { body: 'x' } } } });
    expectStatus(ticket, 201);
    const ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const created = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations`, payload: { message: { subject: 'Hi', body: 'Hello', to: [{ msteams_channel_id: CHANNEL }] } } });
    expectStatus(created, 201);
    const eventId = created.json<WriteBody>().event!.id;

    const guarded = new Relay({
      db: t.db,
      logger: silentLogger,
      channels: { msteams: createTeamsChannel({ db: t.db, box, connector: new TeamsConnector({ tokenUrl: teams.tokenUrl, scope: SCOPE }) }) },
    });
    await guarded.runOnce();
    assert.equal(teams.connectorCalls.length, 0, 'no request reached the private address');
    const row = await t.db.selectFrom('outbox').selectAll().where('event_id', '=', eventId).executeTakeFirstOrThrow();
    assert.equal(row.status, 'failed');
    assert.match(row.last_error ?? '', /private, loopback or link-local/);
  });

  it('the same delivery goes through when the operator allows private targets', async () => {
    const ticket = await permissive.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Allowed', comment: { body: 'x' } } } });
    const ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const created = await permissive.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations`, payload: { message: { subject: 'Hi', body: 'Hello', to: [{ msteams_channel_id: CHANNEL }] } } });
    expectStatus(created, 201);
    const relay = new Relay({
      db: permissive.db,
      logger: silentLogger,
      channels: { msteams: createTeamsChannel({ db: permissive.db, box, connector: new TeamsConnector({ tokenUrl: teams.tokenUrl, scope: SCOPE, allowPrivate: true }) }) },
    });
    assert.equal(await relay.runOnce(), 1);
    assert.equal(teams.connectorCalls.length, 1);
    assert.equal(teams.connectorCalls[0]!.status, 201);
  });
});
