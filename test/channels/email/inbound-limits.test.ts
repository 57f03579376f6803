/**
 * Inbound email takes the write path of every message (addMessage), so a reply by mail meets the
 * body limit an API reply does: over it, the HTTP door answers the API's 422 and the SMTP listener
 * bounces it with 550 and the same description; nothing is recorded either way. At the limit, the
 * reply lands.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SMTPServer } from 'smtp-server';
import { createAttachmentsService } from '../../../src/attachments/service.js';
import { DatabaseBlobStore } from '../../../src/attachments/storage.js';
import { createSmtpListener } from '../../../src/channels/email/smtp-listener.js';
import type { RelayLogger } from '../../../src/outbox/relay.js';
import { MAX_BODY_LENGTH } from '../../../src/side-conversations/rules.js';
import { countRows, startTestApp, STORE_KIND, type TestApp } from '../../helpers/app.js';
import { eventsOf, expectStatus } from '../../helpers/api.js';
import type { WriteBody } from '../../helpers/api-types.js';
import { sendSmtp } from '../../helpers/smtp-client.js';
import { closeListener, listen } from '../../helpers/smtp-listener.js';

const INBOUND_DOMAIN = 'inbound.test';
const SECRET = 'inbound-limits-secret';
const VENDOR = 'vendor@example.com';
const quiet: RelayLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Text of `length` characters in lines of 100 (mail lines stay short); it ends in a letter at both lengths used here. */
function textOf(length: number): string {
  return Array.from({ length: Math.ceil(length / 100) }, () => 'y'.repeat(99)).join('\n').slice(0, length);
}

describe(`inbound email meets the API's body limit (${STORE_KIND})`, () => {
  let t: TestApp;
  let listener: SMTPServer;
  let port: number;
  let ticketId: number;
  let scId: string;
  let replyTo: string;

  before(async () => {
    t = await startTestApp({ inboundDomain: INBOUND_DOMAIN, inboundEmailSecret: SECRET, inboundMaxBytes: 1_000_000 });
    listener = createSmtpListener({
      db: t.db,
      attachments: createAttachmentsService({ db: t.db, blobs: new DatabaseBlobStore(t.db) }),
      inboundDomain: INBOUND_DOMAIN,
      maxBytes: 1_000_000,
      logger: quiet,
    });
    port = await listen(listener);
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Paper', comment: { body: 'Out of paper.' } } } });
    expectStatus(ticket, 201);
    ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const created = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Paper order', body: 'How many reams?', to: [{ email: VENDOR, name: 'Vendor' }] } },
    });
    expectStatus(created, 201);
    scId = created.json<WriteBody>().side_conversation.id;
    const row = await t.db.selectFrom('side_conversations').select('reply_token').where('id', '=', scId).executeTakeFirstOrThrow();
    replyTo = `reply+${row.reply_token!}@${INBOUND_DOMAIN}`;
  });
  after(async () => {
    if (listener) await closeListener(listener);
    await t?.close();
  });

  let counter = 0;
  function raw(body: string): string {
    counter += 1;
    const headers = [`From: Vendor <${VENDOR}>`, `To: ${replyTo}`, 'Subject: Re: Paper order', `Message-ID: <limits-${counter}@example.com>`, 'Content-Type: text/plain; charset=utf-8'];
    return `${headers.join('\r\n')}\r\n\r\n${body.replace(/\n/g, '\r\n')}\r\n`;
  }

  function postInbound(message: string) {
    return t.request({ method: 'POST', url: '/api/v2/inbound/email', auth: null, headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'message/rfc822' }, payload: message });
  }

  it('over the limit by HTTP: 422 RecordInvalid naming message.body, and no event', async () => {
    const eventsBefore = await countRows(t.db, 'side_conversation_events');
    const res = await postInbound(raw(textOf(MAX_BODY_LENGTH + 1)));
    assert.equal(res.statusCode, 422, res.body);
    assert.deepEqual(res.json(), {
      error: 'RecordInvalid',
      description: 'Record validation errors',
      details: { 'message.body': [{ description: `Body: is too long (maximum is ${MAX_BODY_LENGTH} characters)`, error: 'InvalidValue' }] },
    });
    assert.equal(await countRows(t.db, 'side_conversation_events'), eventsBefore);
  });

  it('over the limit by SMTP: 550 with the same description after DATA, and no event', async () => {
    const eventsBefore = await countRows(t.db, 'side_conversation_events');
    const attempt = await sendSmtp(port, { envelope: { from: VENDOR, to: replyTo }, from: VENDOR, to: replyTo, subject: 'Re: Paper order', text: textOf(MAX_BODY_LENGTH + 1) });
    assert.equal(attempt.accepted, false, attempt.transcript);
    assert.match(attempt.reply, new RegExp(`^550 .*Body: is too long \\(maximum is ${MAX_BODY_LENGTH} characters\\)`));
    assert.equal(await countRows(t.db, 'side_conversation_events'), eventsBefore);
  });

  it('at the limit, by either door, the reply is recorded whole', async () => {
    const text = textOf(MAX_BODY_LENGTH);
    const res = await postInbound(raw(text));
    expectStatus(res, 201);
    const attempt = await sendSmtp(port, { envelope: { from: VENDOR, to: replyTo }, from: VENDOR, to: replyTo, subject: 'Re: Paper order', text });
    assert.equal(attempt.accepted, true, attempt.transcript);
    const replies = (await eventsOf(t, ticketId, scId)).filter((e) => e.type === 'reply');
    assert.equal(replies.length, 2);
    for (const reply of replies) {
      assert.equal(reply.via, 'email');
      assert.equal(reply.message!.body.length, MAX_BODY_LENGTH);
    }
  });
});
