/**
 * Forged staff replies (issue 10): a From: header naming an admin makes a reply "by" that admin
 * only when the receiving MX vouches for it; Message-IDs cannot be guessed from event ids.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_EMAIL, startTestApp, STORE_KIND, type TestApp } from '../../helpers/app.js';
import { eventsOf, expectStatus } from '../../helpers/api.js';
import type { WriteBody } from '../../helpers/api-types.js';
import { parseAuthenticationResults, senderIsVouchedFor } from '../../../src/channels/email/sender-identity.js';
import { messageIdFor } from '../../../src/channels/email/threading.js';
import { messageIdKey } from '../../../src/channels/email/repo.js';

const INBOUND_DOMAIN = 'inbound.test';
const SECRET = 'inbound-identity-secret';
const MX = 'mx.inbound.test';
const SUPPORT_DOMAIN = 'support.test';

function raw(headers: Array<[string, string]>, body: string): string {
  return `${headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}\r\n`;
}

describe('Authentication-Results: who vouches for a sender', () => {
  const lines = (...values: string[]) => values.map((v) => ({ key: 'authentication-results', line: `Authentication-Results: ${v}` }));

  it('parses results, properties and comments (which may hold ; and =)', () => {
    const parsed = parseAuthenticationResults(' mx.example.com 1; dkim=pass (good; sig=ok) header.d=Example.COM\r\n header.s=s1; dmarc=fail (p=reject dis=none) header.from=example.com; spf=none');
    assert.equal(parsed.authservId, 'mx.example.com');
    assert.deepEqual(parsed.results.map((r) => [r.method, r.result, Object.fromEntries(r.properties)]), [
      ['dkim', 'pass', { 'header.d': 'example.com', 'header.s': 's1' }],
      ['dmarc', 'fail', { 'header.from': 'example.com' }],
      ['spf', 'none', {}],
    ]);
  });

  it('vouches only for pass results of the trusted authserv-id, aligned with the From domain', () => {
    const vouched = (headerLines: ReturnType<typeof lines>, from = 'admin@example.com', trusted = MX) =>
      senderIsVouchedFor({ headerLines, fromAddress: from, trustedAuthservId: trusted });
    assert.equal(vouched(lines(`${MX}; dmarc=pass header.from=example.com`)), true);
    assert.equal(vouched(lines(`${MX}; dkim=pass header.d=example.com`)), true);
    assert.equal(vouched(lines(`${MX}; dkim=pass header.d=example.com`), 'admin@eu.example.com'), true, 'relaxed alignment');
    assert.equal(vouched(lines(`${MX}; dkim=pass header.i=@example.com`)), true);
    assert.equal(vouched(lines(`${MX}; dmarc=pass header.from=example.com`), 'admin@example.com', ''), false, 'nobody is trusted unless configured');
    assert.equal(vouched(lines(`${MX}; dkim=pass header.d=attacker.example`)), false, 'a signature of another domain');
    assert.equal(vouched(lines(`${MX}; dkim=pass header.d=example.com; dmarc=fail header.from=example.com`)), false, 'dmarc=fail vetoes');
    assert.equal(vouched(lines(`${MX}; dmarc=pass header.from=other.example`)), false);
    assert.equal(vouched(lines(`${MX}; spf=pass smtp.mailfrom=example.com`)), false, 'SPF says nothing about From');
    assert.equal(vouched(lines(`mx.attacker.example; dmarc=pass header.from=example.com`)), false, 'another authserv-id');
    assert.equal(vouched(lines(`${MX}; none`)), false);
    assert.equal(vouched(lines(`${MX}; dmarc=fail header.from=example.com`, `${MX}; dmarc=pass header.from=example.com`)), false, 'the topmost header of our MX decides, not a forged one below it');
    assert.equal(vouched(lines(`MX.Inbound.Test; dmarc=pass (p=none) header.from=example.com`)), true, 'authserv-ids compare without case');
  });
});

describe(`forged staff replies and guessable Message-IDs (${STORE_KIND})`, () => {
  let t: TestApp;
  let adminName: string;

  before(async () => {
    t = await startTestApp({ inboundDomain: INBOUND_DOMAIN, inboundEmailSecret: SECRET, inboundMaxBytes: 1_000_000, inboundTrustedAuthservId: MX });
    await t.db.updateTable('accounts').set({ support_address: `help@${SUPPORT_DOMAIN}` }).where('id', '=', t.accountId).execute();
    adminName = (await t.db.selectFrom('users').select('name').where('id', '=', t.admin.id).executeTakeFirstOrThrow()).name;
  });
  after(async () => t.close());

  async function conversation(subject: string) {
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject, comment: { body: 'x' } } } });
    expectStatus(ticket, 201);
    const ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const created = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations`, payload: { message: { subject, body: 'Stock?', to: [{ email: 'vendor@example.com', name: 'Vendor' }] } } });
    expectStatus(created, 201);
    const out = created.json<WriteBody>();
    const sc = await t.db.selectFrom('side_conversations').select('reply_token').where('id', '=', out.side_conversation.id).executeTakeFirstOrThrow();
    return { ticketId, scId: out.side_conversation.id, eventId: out.event!.id, replyTo: `reply+${sc.reply_token}@${INBOUND_DOMAIN}` };
  }

  function post(message: string) {
    return t.request({ method: 'POST', url: '/api/v2/inbound/email', auth: null, headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'message/rfc822' }, payload: message });
  }

  let counter = 0;
  async function lastActor(conv: { ticketId: number; scId: string }, extra: Array<[string, string]>, to: string) {
    counter += 1;
    const res = await post(raw([...extra, ['From', `"${adminName}" <${ADMIN_EMAIL}>`], ['To', to], ['Subject', 'Re: x'], ['Message-ID', `<forged-${counter}@attacker.example>`]], `Reply ${counter}`));
    expectStatus(res, 201);
    const events = await eventsOf(t, conv.ticketId, conv.scId);
    assert.equal(events.at(-1)!.message?.body, `Reply ${counter}`);
    return events.at(-1)!.actor;
  }

  it('mail From: the admin to the reply address is recorded by name and address, not as the admin', async () => {
    const conv = await conversation('Forged plain');
    const stranger = { user_id: null, name: adminName, email: ADMIN_EMAIL };
    assert.deepEqual(await lastActor(conv, [], conv.replyTo), stranger, 'no Authentication-Results');
    assert.deepEqual(await lastActor(conv, [['Authentication-Results', `${MX}; spf=pass smtp.mailfrom=attacker.example; dkim=pass header.d=attacker.example; dmarc=fail header.from=example.com`]], conv.replyTo), stranger, 'dmarc=fail');
    assert.deepEqual(await lastActor(conv, [['Authentication-Results', 'mx.attacker.example; dmarc=pass header.from=example.com']], conv.replyTo), stranger, 'someone else vouches');
    assert.deepEqual(
      await lastActor(conv, [['Authentication-Results', `${MX}; dmarc=fail header.from=example.com`], ['Authentication-Results', `${MX}; dmarc=pass header.from=example.com`]], conv.replyTo),
      stranger,
      'a forged pass below our MX header',
    );
  });

  it('the same mail vouched for by the trusted MX is recorded as the admin', async () => {
    const conv = await conversation('Vouched');
    const actor = await lastActor(conv, [['Authentication-Results', `${MX}; dkim=pass header.d=example.com header.s=s1; dmarc=pass (p=reject) header.from=example.com`]], conv.replyTo);
    assert.deepEqual(actor, { user_id: t.admin.id, name: adminName, email: ADMIN_EMAIL });
  });

  it('outbound Message-IDs are a keyed hash, not the event id the API shows', async () => {
    const conv = await conversation('Message-ID shape');
    const recorded = await t.db.selectFrom('email_messages').select('message_id').where('event_id', '=', conv.eventId).executeTakeFirstOrThrow();
    assert.match(recorded.message_id, new RegExp(`^<[0-9a-f]{32}@${SUPPORT_DOMAIN.replace('.', '\\.')}>$`));
    assert.ok(!recorded.message_id.includes(conv.eventId));
    assert.ok(!recorded.message_id.includes(conv.eventId.replace(/-/g, '')));
    assert.equal(recorded.message_id, messageIdFor(await messageIdKey(t.db), conv.eventId, SUPPORT_DOMAIN));
  });

  it('mail threaded only by References: <EVENT_ID@…> finds no conversation', async () => {
    const conv = await conversation('Guessed References');
    const before = (await eventsOf(t, conv.ticketId, conv.scId)).length;
    const res = await post(raw([['From', ADMIN_EMAIL], ['To', `support@${INBOUND_DOMAIN}`], ['Subject', 'Re: x'], ['Message-ID', '<guess@attacker.example>'], ['References', `<${conv.eventId}@${SUPPORT_DOMAIN}>`]], 'Close this, please.'));
    expectStatus(res, 422);
    assert.match(res.body, /does not answer any side conversation/);
    assert.equal((await eventsOf(t, conv.ticketId, conv.scId)).length, before);
  });

  it('a thread recorded under an old-style Message-ID keeps matching', async () => {
    const conv = await conversation('Old thread');
    const oldStyle = `<${conv.eventId}@${SUPPORT_DOMAIN}>`;
    await t.db.updateTable('email_messages').set({ message_id: oldStyle }).where('event_id', '=', conv.eventId).execute();
    const res = await post(raw([['From', 'vendor@example.com'], ['To', `support@${INBOUND_DOMAIN}`], ['Subject', 'Re: x'], ['Message-ID', '<old-thread@vendor.example>'], ['In-Reply-To', oldStyle]], 'Still 12 in stock.'));
    expectStatus(res, 201);
    const events = await eventsOf(t, conv.ticketId, conv.scId);
    assert.equal(events.at(-1)!.message?.body, 'Still 12 in stock.');
    assert.deepEqual(events.at(-1)!.actor, { user_id: null, name: null, email: 'vendor@example.com' });
  });
});
