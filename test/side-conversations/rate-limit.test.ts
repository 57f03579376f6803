import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countRows, startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';

describe(`side conversation rate limit (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ rateLimitPer10Minutes: 3 });
    await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Limits', comment: { body: 'x' } } } });
  });
  after(async () => t.close());

  const create = () =>
    t.request({ method: 'POST', url: '/api/v2/tickets/1/side_conversations', payload: { message: { body: 'hi', to: [{ email: 'a@example.com' }] } } });

  it('counts creates and replies together; the one over the limit is a 429 with Retry-After and writes nothing', async () => {
    const first = await create();
    assert.equal(first.statusCode, 201);
    assert.equal(first.headers['retry-after'], undefined, 'only a 429 carries Retry-After');
    const id = first.json<{ side_conversation: { id: string } }>().side_conversation.id;
    const reply = await t.request({ method: 'POST', url: `/api/v2/tickets/1/side_conversations/${id}/reply`, payload: { message: { body: 'again' } } });
    assert.equal(reply.statusCode, 200);
    assert.equal((await create()).statusCode, 201);

    const events = await countRows(t.db, 'side_conversation_events');
    const refused = await create();
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json<{ error: string }>().error, 'TooManyRequests');
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 600, `Retry-After ${refused.headers['retry-after']}`);
    const refusedReply = await t.request({ method: 'POST', url: `/api/v2/tickets/1/side_conversations/${id}/reply`, payload: { message: { body: 'more' } } });
    assert.equal(refusedReply.statusCode, 429);
    assert.equal(await countRows(t.db, 'side_conversation_events'), events);

    // Reads and state changes are not messages: they go on.
    const list = await t.request({ method: 'GET', url: '/api/v2/tickets/1/side_conversations' });
    assert.equal(list.statusCode, 200);
    const closed = await t.request({ method: 'PUT', url: `/api/v2/tickets/1/side_conversations/${id}`, payload: { side_conversation: { state: 'closed' } } });
    assert.equal(closed.statusCode, 200);
  });

  it('the window is per account: another account still has its budget', async () => {
    const acme = await t.createAccount('acme');
    await new Promise((r) => setTimeout(r, 1100)); // the host map sees new accounts within a second
    const headers = { host: 'acme.localhost' };
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', headers, auth: acme.admin.auth, payload: { ticket: { subject: 'A', comment: { body: 'x' } } } });
    assert.equal(ticket.statusCode, 201, ticket.body);
    const created = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticket.json<{ ticket: { id: number } }>().ticket.id}/side_conversations`,
      headers,
      auth: acme.admin.auth,
      payload: { message: { body: 'hi', to: [{ email: 'a@example.com' }] } },
    });
    assert.equal(created.statusCode, 201, created.body);
  });
});
