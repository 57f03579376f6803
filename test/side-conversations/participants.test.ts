/**
 * Side Conversations REST API — Create, per participant type of the reference "Side conversation types" table.
 * Checked against Zendesk's reference (seed/000_ab11591eae9ac2f8.txt) and API-NOTES.md; the world
 * and helpers are in fixture.ts. Every test makes its own ticket so the tests do not lean on each other.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KIND } from '../helpers/app.js';
import { adminActor, agent, AGENT_NAME, type CommentsBody, counts, createSc, createTicket, get, group, item, listSc, outboxRows, showSc, t, type TicketBody, useSideConversationsApp } from './fixture.js';

describe(`side conversations API (${STORE_KIND})`, () => {
  useSideConversationsApp();

  describe('participant types (the reference "Side conversation types" table)', () => {
    it('email by user_id: resolves to that user\'s name and address', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, { subject: 'By id', body: 'Hello agent', to: [{ user_id: agent.id }] });
      const recipient = { user_id: agent.id, name: AGENT_NAME, email: agent.email };
      assert.deepEqual(body.side_conversation.participants, [adminActor, recipient]);
      assert.deepEqual(body.event?.message?.to, [recipient]);
      assert.deepEqual(await outboxRows(body.side_conversation.id), [
        { channel: 'email', event_id: body.event?.id, status: 'pending', account_id: t.accountId },
      ]);
    });

    it('email by address: an outside address has no user and no name', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, { subject: 'By email', body: 'Hello Bob', to: [{ email: 'bob@example.com' }] });
      assert.deepEqual(body.side_conversation.participants, [adminActor, { user_id: null, name: null, email: 'bob@example.com' }]);
      assert.equal((await outboxRows(body.side_conversation.id)).length, 1);
    });

    it('email by address of a known user of the account: resolves to that user', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, { subject: 'Known', body: 'Hello', to: [{ email: agent.email.toUpperCase() }] });
      assert.deepEqual(item(body.side_conversation.participants, 1), { user_id: agent.id, name: AGENT_NAME, email: agent.email });
    });

    it('email by address and name (the reference "John Doe" example)', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, {
        subject: 'My printer is on fire!',
        body: 'The smoke is very colorful.',
        to: [{ email: 'johnny@example.com', name: 'John Doe' }],
      });
      const recipient = { user_id: null, name: 'John Doe', email: 'johnny@example.com' };
      assert.deepEqual(body.side_conversation.participants, [adminActor, recipient]);
      assert.deepEqual(body.event?.message?.to, [recipient]);
    });

    it('several email recipients: one conversation, one delivery, duplicates folded', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const body = await createSc(ticketId, {
        subject: 'Many',
        body: 'Hello all',
        to: [{ email: 'bob@example.com' }, { email: 'BOB@example.com' }, { user_id: agent.id }, { email: 'johnny@example.com', name: 'Johnny' }],
      });
      assert.deepEqual(body.side_conversation.participants, [
        adminActor,
        { user_id: null, name: null, email: 'bob@example.com' },
        { user_id: agent.id, name: AGENT_NAME, email: agent.email },
        { user_id: null, name: 'Johnny', email: 'johnny@example.com' },
      ]);
      const now = await counts();
      assert.equal(now.side_conversation_participants, before.side_conversation_participants + 4);
      assert.equal(now.outbox, before.outbox + 1);
    });

    it('known users by address and by id among outside addresses: each resolved, errors kept to their entries', async () => {
      const dana = await t.createUser('agent', 'Dana Known');
      const ticketId = await createTicket();
      const body = await createSc(ticketId, {
        subject: 'Mixed',
        body: 'Hello',
        to: [{ email: 'outside@example.com' }, { email: dana.email.toUpperCase(), name: 'Given Name' }, { user_id: agent.id }, { email: dana.email }],
      });
      assert.deepEqual(body.side_conversation.participants, [
        adminActor,
        { user_id: null, name: null, email: 'outside@example.com' },
        { user_id: dana.id, name: 'Given Name', email: dana.email },
        { user_id: agent.id, name: AGENT_NAME, email: agent.email },
      ]);
      const refused = await t.request({
        method: 'POST',
        url: `/api/v2/tickets/${ticketId}/side_conversations.json`,
        payload: { message: { subject: 'Bad', body: 'Hello', to: [{ email: dana.email }, { user_id: 99_999_999 }] } },
      });
      assert.equal(refused.statusCode, 422);
      assert.match(refused.body, /message\.to\[1\]\.user_id/);
    });

    it('Slack: slack_workspace_id + slack_channel_id', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, {
        subject: 'My printer is on fire!',
        body: 'The smoke is very colorful.',
        to: [{ slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' }],
      });
      const recipient = { user_id: null, name: null, email: null, slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' };
      assert.deepEqual(body.side_conversation.participants, [adminActor, recipient]);
      assert.deepEqual(body.event?.message?.to, [recipient]);
      assert.deepEqual(body.side_conversation.external_ids, {});
      assert.deepEqual(await outboxRows(body.side_conversation.id), [
        { channel: 'slack', event_id: body.event?.id, status: 'pending', account_id: t.accountId },
      ]);
    });

    it('child ticket by support_group_id: a real ticket in that group, with the message as its first comment', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const body = await createSc(ticketId, {
        subject: 'My printer is on fire!',
        body: 'The smoke is very colorful.',
        to: [{ support_group_id: group.id }],
      });
      const sc = body.side_conversation;
      const target = sc.external_ids['targetTicketId'];
      assert.ok(target, JSON.stringify(sc.external_ids));
      assert.match(target, /^\d+$/);
      const childId = Number(target);
      assert.notEqual(childId, ticketId);
      const recipient = { user_id: null, name: group.name, email: null, support_group_id: group.id, support_agent_id: null };
      assert.deepEqual(sc.participants, [adminActor, recipient]);
      assert.deepEqual(body.event?.message?.to, [recipient]);

      const child = await get(`/api/v2/tickets/${childId}`);
      assert.equal(child.statusCode, 200, child.body);
      const ticket = child.json<TicketBody>().ticket;
      assert.equal(ticket.id, childId);
      assert.equal(ticket.group_id, group.id);
      assert.equal(ticket.assignee_id, null);
      assert.equal(ticket.subject, 'My printer is on fire!');
      assert.equal(ticket.via.channel, 'side_conversation');
      const comments = await get(`/api/v2/tickets/${childId}/comments`);
      assert.equal(comments.statusCode, 200, comments.body);
      const first = item(comments.json<CommentsBody>().comments, 0);
      assert.equal(first.body, 'The smoke is very colorful.');
      assert.equal(first.author_id, t.admin.id);

      // Show and List expose the child ticket id the same way.
      assert.equal((await showSc(ticketId, sc.id)).side_conversation.external_ids['targetTicketId'], target);
      assert.equal(item((await listSc(ticketId)).side_conversations, 0).external_ids['targetTicketId'], target);

      const now = await counts();
      assert.equal(now.tickets, before.tickets + 1);
      assert.equal(now.outbox, before.outbox, 'child tickets are written in place: no outbox row');
      assert.deepEqual(await outboxRows(sc.id), []);
    });

    it('child ticket by support_group_id given as a string (the reference types it as a string)', async () => {
      const ticketId = await createTicket();
      const body = await createSc(ticketId, { subject: 'String id', body: 'Please look', to: [{ support_group_id: String(group.id) }] });
      const childId = Number(body.side_conversation.external_ids['targetTicketId']);
      const child = await get(`/api/v2/tickets/${childId}`);
      assert.equal(child.statusCode, 200, child.body);
      assert.equal(child.json<TicketBody>().ticket.group_id, group.id);
      assert.equal(item(body.side_conversation.participants, 1).support_group_id, group.id);
    });

    it('child ticket by support_group_id + support_agent_id: assigned to that group member', async () => {
      const ticketId = await createTicket();
      const before = await counts();
      const body = await createSc(ticketId, {
        subject: 'Assigned child',
        body: 'Agent, please take this.',
        to: [{ support_group_id: group.id, support_agent_id: agent.id }],
      });
      const sc = body.side_conversation;
      const childId = Number(sc.external_ids['targetTicketId']);
      assert.ok(Number.isInteger(childId) && childId > 0);
      const recipient = { user_id: agent.id, name: AGENT_NAME, email: agent.email, support_group_id: group.id, support_agent_id: agent.id };
      assert.deepEqual(sc.participants, [adminActor, recipient]);

      const child = await get(`/api/v2/tickets/${childId}.json`);
      assert.equal(child.statusCode, 200, child.body);
      const ticket = child.json<TicketBody>().ticket;
      assert.equal(ticket.group_id, group.id);
      assert.equal(ticket.assignee_id, agent.id);
      assert.equal(ticket.subject, 'Assigned child');
      const comments = await get(`/api/v2/tickets/${childId}/comments.json`);
      assert.equal(item(comments.json<CommentsBody>().comments, 0).body, 'Agent, please take this.');

      const now = await counts();
      assert.equal(now.tickets, before.tickets + 1);
      assert.equal(now.outbox, before.outbox);
    });

    it('Microsoft Teams: msteams_channel_id', async () => {
      const ticketId = await createTicket();
      const channel = '19:1a2b3c4d5e@thread.tacv2';
      const body = await createSc(ticketId, { subject: 'Teams', body: 'The smoke is very colorful.', to: [{ msteams_channel_id: channel }] });
      const recipient = { user_id: null, name: null, email: null, msteams_channel_id: channel };
      assert.deepEqual(body.side_conversation.participants, [adminActor, recipient]);
      assert.deepEqual(body.event?.message?.to, [recipient]);
      assert.deepEqual(await outboxRows(body.side_conversation.id), [
        { channel: 'msteams', event_id: body.event?.id, status: 'pending', account_id: t.accountId },
      ]);
    });
  });
});
