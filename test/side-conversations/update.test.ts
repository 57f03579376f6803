/**
 * Side Conversations REST API — Update (state, subject), and concurrent writes to one conversation.
 * Checked against Zendesk's reference (seed/000_ab11591eae9ac2f8.txt) and API-NOTES.md; the world
 * and helpers are in fixture.ts. Every test makes its own ticket so the tests do not lean on each other.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countRows, STORE_KIND } from '../helpers/app.js';
import type { WriteBody } from '../helpers/api-types.js';
import { adminActor, assertInvalid, assertNotFound, assertSideConversationShape, counts, createSc, createTicket, emailSc, EVENT_TIME, get, item, listSc, post, put, REFERENCE_SC_ID, REFERENCE_UPDATE_JSON, scPath, showSc, t, UNICODE_SUBJECT, useSideConversationsApp, UUID } from './fixture.js';

describe(`side conversations API (${STORE_KIND})`, () => {
  useSideConversationsApp();

  describe('Update (PUT /api/v2/tickets/{ticket_id}/side_conversations/{id})', () => {
    it('takes the reference "Example body" as-is: only the subject changes, read-only fields are ignored; then closing records an update event', async () => {
      const ticketId = await createTicket();
      const created = await createSc(
        ticketId,
        { subject: 'Original subject', body: 'I was trying to print an email', to: [{ email: 'bob@example.com' }] },
        { external_ids: { mine: 'kept' } },
      );
      const original = (await showSc(ticketId, created.side_conversation.id)).side_conversation;
      const eventsBefore = await countRows(t.db, 'side_conversation_events');

      const res = await t.request({
        method: 'PUT',
        url: scPath(ticketId, original.id),
        payload: REFERENCE_UPDATE_JSON,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<WriteBody>();
      assert.deepEqual(Object.keys(body).sort(), ['event', 'side_conversation', 'updates']);
      assert.deepEqual(body.updates, { subject: 'Help, my printer is on fire!' });

      const updated = body.side_conversation;
      assertSideConversationShape(updated, ticketId);
      assert.equal(updated.subject, 'Help, my printer is on fire!');
      // Read-only (and not-updatable) fields of the object sent back are ignored.
      assert.equal(updated.id, original.id);
      assert.notEqual(updated.id, REFERENCE_SC_ID);
      assert.equal(updated.url, original.url);
      assert.ok(!updated.url.includes('company.zendesk.com'));
      assert.equal(updated.ticket_id, ticketId);
      assert.equal(updated.created_at, original.created_at);
      assert.equal(updated.message_added_at, original.message_added_at);
      assert.equal(updated.state_updated_at, original.state_updated_at, 'state did not change');
      assert.equal(updated.state, 'open');
      assert.equal(updated.preview_text, original.preview_text);
      assert.deepEqual(updated.participants, original.participants);
      assert.deepEqual(updated.external_ids, { mine: 'kept' });
      assert.ok(updated.updated_at > original.updated_at, `${updated.updated_at} should be after ${original.updated_at}`);

      const event = body.event;
      assert.ok(event);
      assert.match(event.id, UUID);
      assert.equal(event.type, 'update');
      assert.equal(event.via, 'api');
      assert.equal(event.side_conversation_id, original.id);
      assert.equal(event.ticket_id, ticketId);
      assert.deepEqual(event.actor, adminActor);
      assert.equal(event.message, null);
      assert.deepEqual(event.updates, { subject: 'Help, my printer is on fire!' });
      assert.match(event.created_at, EVENT_TIME);
      assert.equal(await countRows(t.db, 'side_conversation_events'), eventsBefore + 1);

      // The reference's own id was never created.
      assertNotFound(await get(scPath(ticketId, REFERENCE_SC_ID)));

      // Now the documented short body: close it.
      const closed = await put(ticketId, original.id, { side_conversation: { state: 'closed' } });
      assert.equal(closed.statusCode, 200, closed.body);
      const closedBody = closed.json<WriteBody>();
      assert.deepEqual(closedBody.updates, { state: 'closed' });
      assert.equal(closedBody.side_conversation.state, 'closed');
      assert.equal(closedBody.side_conversation.subject, 'Help, my printer is on fire!');
      assert.ok(
        closedBody.side_conversation.state_updated_at > updated.state_updated_at,
        `${closedBody.side_conversation.state_updated_at} should be after ${updated.state_updated_at}`,
      );
      assert.equal(closedBody.side_conversation.created_at, original.created_at);
      assert.equal(closedBody.event?.type, 'update');
      assert.deepEqual(closedBody.event?.updates, { state: 'closed' });

      const shown = await showSc(ticketId, original.id, '?include=events');
      assert.equal(shown.side_conversation.state, 'closed');
      const events = shown.events;
      assert.ok(events);
      assert.deepEqual(
        events.map((e) => [e.type, e.updates]),
        [
          ['create', {}],
          ['update', { subject: 'Help, my printer is on fire!' }],
          ['update', { state: 'closed' }],
        ],
      );
      assert.equal(item(events, 2).id, closedBody.event?.id);
      assert.equal(item(events, 2).message, null);
      for (const e of events) {
        assert.equal(e.side_conversation_id, original.id);
        assert.match(e.created_at, EVENT_TIME);
      }
    });

    it('a no-op update answers event:null and updates:{} and writes no event', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Help, my printer is on fire!');
      const before = await counts();
      const noOps: unknown[] = [
        { side_conversation: {} },
        { side_conversation: { state: 'open' } },
        { side_conversation: { subject: 'Help, my printer is on fire!' } },
        { side_conversation: { subject: '  Help, my printer is on fire!  ' } },
        { side_conversation: { subject: null } },
        JSON.parse(REFERENCE_UPDATE_JSON) as unknown,
      ];
      for (const payload of noOps) {
        const res = await put(ticketId, sc.id, payload);
        assert.equal(res.statusCode, 200, `${JSON.stringify(payload)} → ${res.body}`);
        const body = res.json<WriteBody>();
        assert.equal(body.event, null, JSON.stringify(payload));
        assert.deepEqual(body.updates, {});
        assert.deepEqual(body.side_conversation, sc, 'nothing about the conversation moved');
      }
      assert.deepEqual(await counts(), before);
      const shown = await showSc(ticketId, sc.id, '?include=events');
      assert.deepEqual(shown.events?.map((e) => e.type), ['create']);
    });

    it('closing a closed conversation is a no-op; reopening records state "open"', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId);
      const first = await put(ticketId, sc.id, { side_conversation: { state: 'closed' } });
      assert.deepEqual(first.json<WriteBody>().updates, { state: 'closed' });
      const again = await put(ticketId, sc.id, { side_conversation: { state: 'closed' } });
      assert.equal(again.statusCode, 200);
      assert.equal(again.json<WriteBody>().event, null);
      assert.deepEqual(again.json<WriteBody>().updates, {});
      assert.equal(again.json<WriteBody>().side_conversation.state, 'closed');
      const reopened = await put(ticketId, sc.id, { side_conversation: { state: 'open' } });
      assert.equal(reopened.statusCode, 200, reopened.body);
      assert.deepEqual(reopened.json<WriteBody>().updates, { state: 'open' });
      assert.equal(reopened.json<WriteBody>().side_conversation.state, 'open');
      const shown = await showSc(ticketId, sc.id, '?include=events');
      assert.deepEqual(shown.events?.map((e) => e.updates), [{}, { state: 'closed' }, { state: 'open' }]);
    });

    it('changing state and subject together records one event with both updates', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Before');
      const before = await countRows(t.db, 'side_conversation_events');
      const res = await put(ticketId, sc.id, { side_conversation: { state: 'closed', subject: 'After' } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<WriteBody>();
      assert.deepEqual(body.updates, { state: 'closed', subject: 'After' });
      assert.deepEqual(body.event?.updates, { state: 'closed', subject: 'After' });
      assert.equal(body.side_conversation.state, 'closed');
      assert.equal(body.side_conversation.subject, 'After');
      assert.equal(await countRows(t.db, 'side_conversation_events'), before + 1);
    });

    it('works on the .json path and round-trips a unicode subject', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId);
      const res = await t.request({ method: 'PUT', url: `${scPath(ticketId, sc.id)}.json`, payload: { side_conversation: { subject: UNICODE_SUBJECT } } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<WriteBody>().side_conversation.subject, UNICODE_SUBJECT);
      assert.deepEqual(res.json<WriteBody>().updates, { subject: UNICODE_SUBJECT });
      assert.equal((await showSc(ticketId, sc.id)).side_conversation.subject, UNICODE_SUBJECT);
    });

    const BAD_UPDATES: Array<{ name: string; payload: unknown; fields: string[] }> = [
      { name: 'state "archived"', payload: { side_conversation: { state: 'archived' } }, fields: ['state', 'side_conversation.state'] },
      { name: 'state "Closed" (case matters)', payload: { side_conversation: { state: 'Closed' } }, fields: ['state', 'side_conversation.state'] },
      { name: 'state null', payload: { side_conversation: { state: null } }, fields: ['state', 'side_conversation.state'] },
      { name: 'state a number', payload: { side_conversation: { state: 1 } }, fields: ['state', 'side_conversation.state'] },
      { name: 'a blank subject', payload: { side_conversation: { subject: '   ' } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'an empty subject', payload: { side_conversation: { subject: '' } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'a subject with CR/LF', payload: { side_conversation: { subject: 'Hi\r\nBcc: victim@example.com' } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'a subject over 255 characters', payload: { side_conversation: { subject: 'S'.repeat(256) } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'a subject that is a number', payload: { side_conversation: { subject: 7 } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'a valid state with a bad subject (all or nothing)', payload: { side_conversation: { state: 'closed', subject: '' } }, fields: ['subject', 'side_conversation.subject'] },
      { name: 'no side_conversation object', payload: { state: 'closed' }, fields: ['side_conversation'] },
      { name: 'side_conversation is a string', payload: { side_conversation: 'closed' }, fields: ['side_conversation'] },
    ];
    for (const c of BAD_UPDATES) {
      it(`refuses ${c.name} with 422 and changes nothing`, async () => {
        const ticketId = await createTicket();
        const sc = await emailSc(ticketId, 'Stays');
        const before = await counts();
        const res = await put(ticketId, sc.id, c.payload);
        assertInvalid(res, ...c.fields);
        assert.deepEqual(await counts(), before);
        const shown = await showSc(ticketId, sc.id);
        assert.deepEqual(shown.side_conversation, sc);
      });
    }
  });

  describe('concurrency', () => {
    it('10 concurrent creates on one ticket all succeed and the list shows 10 distinct conversations', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          post(ticketId, { message: { subject: `Concurrent ${i}`, body: `Message ${i}`, to: [{ email: `c${i}@example.com` }] } }),
        ),
      );
      const ids = results.map((res) => {
        assert.equal(res.statusCode, 201, res.body);
        const body = res.json<WriteBody>();
        assert.equal(body.event?.type, 'create');
        return body.side_conversation.id;
      });
      assert.equal(new Set(ids).size, 10);
      const list = await listSc(ticketId, '?include=events');
      assert.equal(list.count, 10);
      assert.equal(list.side_conversations.length, 10);
      assert.deepEqual(new Set(list.side_conversations.map((s) => s.id)), new Set(ids));
      assert.deepEqual(
        new Set(list.side_conversations.map((s) => s.subject)),
        new Set(Array.from({ length: 10 }, (_, i) => `Concurrent ${i}`)),
      );
      assert.equal(list.events?.length, 10);
      const now = await counts();
      assert.equal(now.side_conversations, before.side_conversations + 10);
      assert.equal(now.side_conversation_events, before.side_conversation_events + 10);
      assert.equal(now.side_conversation_participants, before.side_conversation_participants + 20);
      assert.equal(now.outbox, before.outbox + 10);
      // The list order is stable: the same twice, and pages of 3 add up to it.
      const again = await listSc(ticketId);
      assert.deepEqual(again.side_conversations.map((s) => s.id), list.side_conversations.map((s) => s.id));
      const paged: string[] = [];
      for (let page = 1; page <= 4; page++) paged.push(...(await listSc(ticketId, `?per_page=3&page=${page}`)).side_conversations.map((s) => s.id));
      assert.deepEqual(paged, list.side_conversations.map((s) => s.id));
    });

    it('8 concurrent closes of one conversation record exactly one update event', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId);
      const before = await countRows(t.db, 'side_conversation_events');
      const results = await Promise.all(Array.from({ length: 8 }, () => put(ticketId, sc.id, { side_conversation: { state: 'closed' } })));
      const bodies = results.map((res) => {
        assert.equal(res.statusCode, 200, res.body);
        return res.json<WriteBody>();
      });
      const changed = bodies.filter((b) => b.event !== null);
      assert.equal(changed.length, 1, 'exactly one request changed the state');
      assert.deepEqual(item(changed, 0).updates, { state: 'closed' });
      for (const b of bodies) {
        assert.equal(b.side_conversation.state, 'closed');
        if (b.event === null) assert.deepEqual(b.updates, {});
      }
      assert.equal(await countRows(t.db, 'side_conversation_events'), before + 1);
    });
  });
});
