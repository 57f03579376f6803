/**
 * Teams inbound activities, against the loopback Bot Framework fake: the bot's own `<at>` mention
 * is cut from a reply (other mentions stay), and a token whose `serviceurl` claim is not the
 * activity's `serviceUrl` is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { countRows, startTestApp, STORE_KIND, type TestApp } from '../../helpers/app.js';
import { eventsOf, expectStatus, UNAUTHORIZED } from '../../helpers/api.js';
import type { WriteBody } from '../../helpers/api-types.js';
import { startFakeTeams, type FakeTeams } from '../../helpers/fake-teams.js';
import { SecretBox } from '../../../src/integrations/secret-box.js';
import { Relay } from '../../../src/outbox/relay.js';
import { createTeamsChannel } from '../../../src/channels/teams/deliver.js';
import { TeamsConnector } from '../../../src/channels/teams/connector.js';
import { removeRecipientMention } from '../../../src/channels/teams/receive.js';

const APP_ID = 'inbound-app';
const TENANT = 'tenant-inbound';
const TEAMS_CHANNEL = '19:inbound@thread.tacv2';
const ISSUER = 'https://api.botframework.com';
const KID = 'inbound-key';
const BOT_ID = `28:${APP_ID}`;

describe(`Teams inbound: recipient mention and serviceurl claim (${STORE_KIND})`, () => {
  let t: TestApp;
  let teams: FakeTeams;
  let privateKey: CryptoKey;
  let ticketId = 0;
  let scId = '';
  let conversationId = '';
  const encryptionKey = randomBytes(32).toString('hex');
  const box = SecretBox.fromEnv(encryptionKey)!;

  function sign(serviceurl: string | undefined): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(serviceurl === undefined ? {} : { serviceurl })
      .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(APP_ID)
      .setIssuedAt(now - 60)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
  }

  function activity(id: string, extra: Record<string, unknown>): Record<string, unknown> {
    return {
      type: 'message',
      id,
      serviceUrl: teams.serviceUrl,
      channelId: 'msteams',
      from: { id: '29:pat', name: 'Pat Teams' },
      conversation: { id: conversationId, isGroup: true, conversationType: 'channel', tenantId: TENANT },
      recipient: { id: BOT_ID, name: 'Sideline' },
      textFormat: 'plain',
      ...extra,
    };
  }

  async function send(body: Record<string, unknown>, token: string) {
    return t.request({ method: 'POST', url: '/integrations/teams/messages', auth: null, headers: { authorization: `Bearer ${token}` }, payload: body });
  }

  async function lastReplyBody(): Promise<string | undefined> {
    return (await eventsOf(t, ticketId, scId)).at(-1)?.message?.body;
  }

  before(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    teams = await startFakeTeams({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256' }] });
    // The fake connector listens on loopback, which the outbound guard refuses unless allowed.
    t = await startTestApp({ encryptionKey, outboundAllowPrivate: true, teamsOpenIdMetadataUrl: teams.openIdMetadataUrl, teamsJwtIssuer: ISSUER });
    const connected = await t.request({
      method: 'PUT',
      url: '/api/v2/sideline/integrations/teams',
      payload: { teams_bot: { app_id: APP_ID, app_password: 'inbound-password', tenant_id: TENANT, service_url: teams.serviceUrl } },
    });
    expectStatus(connected, 200);
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Mentions', comment: { body: 'x' } } } });
    expectStatus(ticket, 201);
    ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const created = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Stock check', body: 'Do we have any?', to: [{ msteams_channel_id: TEAMS_CHANNEL }] } },
    });
    expectStatus(created, 201);
    scId = created.json<WriteBody>().side_conversation.id;
    const relay = new Relay({
      db: t.db,
      logger: { info() {}, warn() {}, error() {} },
      channels: { msteams: createTeamsChannel({ db: t.db, box, connector: new TeamsConnector({ tokenUrl: teams.tokenUrl, scope: 'https://api.botframework.com/.default', allowPrivate: true }) }) },
    });
    assert.equal(await relay.runOnce(), 1);
    conversationId = String(teams.connectorCalls[0]!.response['id']);
  });
  after(async () => {
    await t?.close();
    await teams?.close();
  });

  it("cuts the bot's own <at> mention from the reply, leaving another person's mention", async () => {
    const res = await send(
      activity('mention-1', {
        text: '<at>Sideline</at> yes, 12 left. Ask <at>Lee Stock</at> for more.',
        entities: [
          { type: 'mention', mentioned: { id: BOT_ID, name: 'Sideline' }, text: '<at>Sideline</at>' },
          { type: 'mention', mentioned: { id: '29:lee', name: 'Lee Stock' }, text: '<at>Lee Stock</at>' },
          { type: 'clientInfo', locale: 'en-US' },
        ],
      }),
      await sign(teams.serviceUrl),
    );
    expectStatus(res, 200);
    assert.equal(await lastReplyBody(), 'yes, 12 left. Ask Lee Stock for more.');
  });

  it('keeps the text whole when the mention names someone other than the recipient', async () => {
    const res = await send(
      activity('mention-2', {
        text: '<at>Sideline</at> please',
        entities: [{ type: 'mention', mentioned: { id: '28:another-bot', name: 'Sideline' }, text: '<at>Sideline</at>' }],
      }),
      await sign(teams.serviceUrl),
    );
    expectStatus(res, 200);
    assert.equal(await lastReplyBody(), 'Sideline please');
  });

  it('records nothing when the message was only the mention', async () => {
    const before = await countRows(t.db, 'side_conversation_events');
    const res = await send(
      activity('mention-3', { text: '<at>Sideline</at>', entities: [{ type: 'mention', mentioned: { id: BOT_ID }, text: '<at>Sideline</at>' }] }),
      await sign(teams.serviceUrl),
    );
    expectStatus(res, 200);
    assert.equal(await countRows(t.db, 'side_conversation_events'), before);
  });

  it("refuses with 401 a token whose serviceurl claim is not the activity's serviceUrl, or has none", async () => {
    const before = await countRows(t.db, 'side_conversation_events');
    const otherConnector = 'https://smba.evil.example/teams/';
    const cases: Array<{ label: string; claim: string | undefined; serviceUrl: unknown }> = [
      { label: 'token for another connector', claim: otherConnector, serviceUrl: teams.serviceUrl },
      { label: 'activity naming another connector', claim: teams.serviceUrl, serviceUrl: otherConnector },
      { label: 'token without the claim', claim: undefined, serviceUrl: teams.serviceUrl },
      { label: 'activity without serviceUrl', claim: teams.serviceUrl, serviceUrl: undefined },
      { label: 'serviceUrl that is not a string', claim: teams.serviceUrl, serviceUrl: { href: teams.serviceUrl } },
    ];
    for (const [index, c] of cases.entries()) {
      const res = await send(activity(`claim-${index}`, { text: c.label, serviceUrl: c.serviceUrl }), await sign(c.claim));
      assert.equal(res.statusCode, 401, `${c.label}: ${res.body}`);
      assert.deepEqual(res.json(), UNAUTHORIZED, c.label);
    }
    assert.equal(await countRows(t.db, 'side_conversation_events'), before);
    const matching = await send(activity('claim-ok', { text: 'matching claim' }), await sign(teams.serviceUrl));
    expectStatus(matching, 200);
    assert.equal(await lastReplyBody(), 'matching claim');
  });
});

describe('removeRecipientMention', () => {
  it('ignores malformed entities and a missing recipient', () => {
    const text = '<at>Bot</at> hi';
    assert.equal(removeRecipientMention({ text, entities: [{ type: 'mention', mentioned: { id: BOT_ID }, text: '<at>Bot</at>' }] }), text);
    assert.equal(removeRecipientMention({ text, recipient: { id: BOT_ID }, entities: 'nope' }), text);
    assert.equal(
      removeRecipientMention({ text, recipient: { id: BOT_ID }, entities: [null, 7, { type: 'mention', mentioned: { id: BOT_ID }, text: '' }, { type: 'mention', text: '<at>Bot</at>' }] }),
      text,
    );
    assert.equal(removeRecipientMention({ text, recipient: { id: BOT_ID }, entities: [{ type: 'mention', mentioned: { id: BOT_ID }, text: '<at>Bot</at>' }] }), 'hi');
  });
});
