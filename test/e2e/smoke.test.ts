import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';

describe(`smoke (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => t.close());

  it('creates a ticket and an email side conversation, and lists it', async () => {
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets.json', payload: { ticket: { subject: 'Printer', comment: { body: 'It burns' } } } });
    assert.equal(ticket.statusCode, 201);
    const ticketId = ticket.json().ticket.id;
    assert.equal(ticketId, 1);
    const created = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Hi', body: 'Hello', to: [{ email: 'vendor@example.com' }] } },
    });
    assert.equal(created.statusCode, 201, created.body);
    const list = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations.json` });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().count, 1);
    assert.equal(list.json().side_conversations[0].id, created.json().side_conversation.id);
  });
});
