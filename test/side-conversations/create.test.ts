/**
 * Side Conversations REST API — Create: the reference body, the envelope field by field, what it queues.
 * Checked against Zendesk's reference (seed/000_ab11591eae9ac2f8.txt) and API-NOTES.md; the world
 * and helpers are in fixture.ts. Every test makes its own ticket so the tests do not lean on each other.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KIND } from '../helpers/app.js';
import type { WriteBody } from '../helpers/api-types.js';
import { adminActor, assertSideConversationShape, counts, createSc, createTicket, detailsOf, EVENT_TIME, item, listSc, OBFUSCATED_CREATE_BODY, outboxRows, post, REFERENCE_CREATE_BODY, refusedCreate, showSc, t, UNICODE_BODY, UNICODE_SUBJECT, useSideConversationsApp, UUID } from './fixture.js';

describe(`side conversations API (${STORE_KIND})`, () => {
  useSideConversationsApp();

  describe('Create (POST /api/v2/tickets/{ticket_id}/side_conversations)', () => {
    it('answers the reference "Example body" (de-obfuscated) with 201 and the documented envelope, field by field', async () => {
      const ticketId = await createTicket('Printer on fire');
      const before = await counts();
      const res = await post(ticketId, REFERENCE_CREATE_BODY);
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json<WriteBody>();
      assert.deepEqual(Object.keys(body).sort(), ['event', 'side_conversation', 'updates']);
      assert.deepEqual(body.updates, {});

      const sc = body.side_conversation;
      assertSideConversationShape(sc, ticketId);
      assert.match(sc.url, /^http:\/\/localhost(:80)?\//);
      assert.equal(new URL(sc.url).pathname, `/api/v2/tickets/${ticketId}/side_conversations/${sc.id}`);
      assert.equal(new URL(sc.url).search, '');
      assert.equal(sc.subject, 'My printer is on fire!');
      assert.equal(sc.state, 'open');
      assert.equal(sc.preview_text, 'The smoke is very colorful.');
      assert.deepEqual(sc.external_ids, {});
      assert.deepEqual(sc.participants, [adminActor, { user_id: null, name: null, email: 'someone@example.com' }]);
      // A new conversation: all four times are its creation time.
      assert.equal(sc.updated_at, sc.created_at);
      assert.equal(sc.message_added_at, sc.created_at);
      assert.equal(sc.state_updated_at, sc.created_at);

      const event = body.event;
      assert.ok(event);
      assert.match(event.id, UUID);
      assert.notEqual(event.id, sc.id);
      assert.equal(event.side_conversation_id, sc.id);
      assert.equal(event.ticket_id, ticketId);
      assert.equal(event.type, 'create');
      assert.equal(event.via, 'api');
      assert.deepEqual(event.actor, adminActor);
      assert.match(event.created_at, EVENT_TIME);
      assert.equal(new Date(event.created_at).getTime(), new Date(sc.created_at).getTime());
      assert.deepEqual(event.updates, {});
      // The message also reports its delivery, per recipient: queued until the relay sends it.
      const message = { ...event.message } as Record<string, unknown>;
      const deliveries = message['deliveries'] as Array<Record<string, unknown>>;
      delete message['deliveries'];
      assert.equal(deliveries.length, 1);
      assert.deepEqual({ ...deliveries[0], updated_at: undefined }, { recipient: 'someone@example.com', status: 'queued', reason: null, updated_at: undefined });
      assert.deepEqual(message, {
        subject: 'My printer is on fire!',
        body: 'The smoke is very colorful.',
        html_body: '<div class="zd-comment"><p>The smoke is very colorful.</p></div>',
        preview_text: 'The smoke is very colorful.',
        from: adminActor,
        to: [{ email: 'someone@example.com', name: null, user_id: null }],
        attachments: [],
        external_ids: {},
      });

      // One conversation, one event, two participants, one delivery to make; no ticket.
      const now = await counts();
      assert.equal(now.side_conversations, before.side_conversations + 1);
      assert.equal(now.side_conversation_events, before.side_conversation_events + 1);
      assert.equal(now.side_conversation_participants, before.side_conversation_participants + 2);
      assert.equal(now.outbox, before.outbox + 1);
      assert.equal(now.tickets, before.tickets);
      const outbox = await outboxRows(sc.id);
      assert.deepEqual(outbox, [{ channel: 'email', event_id: event.id, status: 'pending', account_id: t.accountId }]);

      // Show answers the very same object.
      const shown = await showSc(ticketId, sc.id);
      assert.deepEqual(shown, { side_conversation: sc });
    });

    it('refuses the literal obfuscated address "[email protected]" with 422 on message.to[0].email', async () => {
      const ticketId = await createTicket();
      const body = await refusedCreate(ticketId, OBFUSCATED_CREATE_BODY, 'message.to[0].email');
      assert.match(item(detailsOf(body, 'message.to[0].email'), 0).description, /email/i);
    });

    it('keeps external ids of the conversation and of the message apart (the reference Create example)', async () => {
      const ticketId = await createTicket();
      const body = await createSc(
        ticketId,
        {
          subject: 'My printer is on fire!',
          body: 'The smoke is very colorful.',
          to: [{ email: 'someone@example.com' }],
          external_ids: { 'message-external': 'xyz' },
        },
        { external_ids: { 'conversation-external': 'zyx' } },
      );
      assert.deepEqual(body.side_conversation.external_ids, { 'conversation-external': 'zyx' });
      assert.deepEqual(body.event?.message?.external_ids, { 'message-external': 'xyz' });
      const shown = await showSc(ticketId, body.side_conversation.id, '?include=events');
      assert.deepEqual(shown.side_conversation.external_ids, { 'conversation-external': 'zyx' });
      assert.deepEqual(item(shown.events, 0).message?.external_ids, { 'message-external': 'xyz' });
    });

    it('escapes a plain-text body in html_body and keeps the text as sent', async () => {
      const ticketId = await createTicket();
      const text = '<b>bold</b> & "quoted" \'single\'\n\n<script>alert(1)</script>';
      const body = await createSc(ticketId, { subject: 'Escaping', body: text, to: [{ email: 'someone@example.com' }] });
      const message = body.event?.message;
      assert.ok(message);
      assert.equal(message.body, text);
      assert.equal(
        message.html_body,
        '<div class="zd-comment"><p>&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; &#39;single&#39;</p><p>&lt;script&gt;alert(1)&lt;/script&gt;</p></div>',
      );
      assert.ok(!message.html_body.includes('<script'));
    });

    it('sanitises client html_body: no scripts, event handlers or javascript: links survive', async () => {
      const ticketId = await createTicket();
      const html =
        '<p>Hi <strong>there</strong></p><script>alert(1)</script><img src="https://example.com/x.png" onerror="alert(2)"><a href="javascript:alert(3)">click</a>';
      const body = await createSc(ticketId, { subject: 'HTML', html_body: html, to: [{ email: 'someone@example.com' }] });
      const message = body.event?.message;
      assert.ok(message);
      assert.ok(message.html_body.includes('<strong>there</strong>'), message.html_body);
      for (const bad of ['<script', 'alert(1)', 'onerror', 'javascript:']) {
        assert.ok(!message.html_body.toLowerCase().includes(bad), `${bad} survived in ${message.html_body}`);
      }
      assert.match(message.body, /^Hi there/);
      assert.ok(!message.body.includes('alert(1)'));
      assert.equal(body.side_conversation.preview_text, message.preview_text);
    });

    it('accepts a subject of exactly 255 characters', async () => {
      const ticketId = await createTicket();
      const subject = 'S'.repeat(255);
      const body = await createSc(ticketId, { subject, body: 'Long subject', to: [{ email: 'someone@example.com' }] });
      assert.equal(body.side_conversation.subject, subject);
      assert.equal(body.event?.message?.subject, subject);
    });

    it('a long body gives a one-line preview_text of at most 140 characters', async () => {
      const ticketId = await createTicket();
      const text = `${'The printer is on fire again. '.repeat(20)}\n\nSecond paragraph.`;
      const body = await createSc(ticketId, { subject: 'Long', body: text, to: [{ email: 'someone@example.com' }] });
      const preview = body.side_conversation.preview_text;
      assert.ok(preview.length > 0 && preview.length <= 140, `${preview.length}: ${preview}`);
      assert.ok(!/[\r\n]/.test(preview));
      assert.ok(preview.startsWith('The printer is on fire again.'));
      assert.equal(body.event?.message?.preview_text, preview);
      assert.equal(body.event?.message?.body, text.trim());
    });

    it('a forged Host header cannot inject markup into the url field', async () => {
      const ticketId = await createTicket();
      const res = await post(ticketId, REFERENCE_CREATE_BODY, undefined, { host: 'support.evil"><svg onload=alert(1)>' });
      assert.equal(res.statusCode, 201, res.body);
      const url = res.json<WriteBody>().side_conversation.url;
      assert.ok(!/[<>"\s]/.test(url), url);
      assert.ok(url.endsWith(`/api/v2/tickets/${ticketId}/side_conversations/${res.json<WriteBody>().side_conversation.id}`));
    });

    it('round-trips a deep unicode subject and body (emoji, ZWJ sequences, RTL marks, combining marks, astral) exactly', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, { subject: UNICODE_SUBJECT, body: UNICODE_BODY, to: [{ email: 'someone@example.com' }] });
      assert.equal(body.side_conversation.subject, UNICODE_SUBJECT);
      assert.equal(body.event?.message?.subject, UNICODE_SUBJECT);
      assert.equal(body.event?.message?.body, UNICODE_BODY);
      const shown = await showSc(ticketId, body.side_conversation.id, '?include=events');
      assert.equal(shown.side_conversation.subject, UNICODE_SUBJECT);
      assert.equal(item(shown.events, 0).message?.subject, UNICODE_SUBJECT);
      assert.equal(item(shown.events, 0).message?.body, UNICODE_BODY);
      const list = await listSc(ticketId);
      assert.equal(item(list.side_conversations, 0).subject, UNICODE_SUBJECT);
    });
  });
});
