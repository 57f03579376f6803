import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';

interface ExportPage {
  events: Array<{ id: string; type: string; side_conversation_id: string }>;
  next_page: string | null;
  end_time: number;
  count: number;
}

describe(`incremental export of side conversation events (${STORE_KIND})`, () => {
  let t: TestApp;
  const eventIds: string[] = [];

  before(async () => {
    t = await startTestApp();
    await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Export', comment: { body: 'x' } } } });
    for (let i = 0; i < 4; i++) {
      const created = await t.request({
        method: 'POST',
        url: '/api/v2/tickets/1/side_conversations',
        payload: { message: { subject: `SC ${i}`, body: 'hello', to: [{ email: `p${i}@example.com` }] } },
      });
      assert.equal(created.statusCode, 201, created.body);
      const body = created.json<{ event: { id: string }; side_conversation: { id: string } }>();
      eventIds.push(body.event.id);
      const replied = await t.request({ method: 'POST', url: `/api/v2/tickets/1/side_conversations/${body.side_conversation.id}/reply`, payload: { message: { body: 'again' } } });
      eventIds.push(replied.json<{ event: { id: string } }>().event.id);
    }
  });
  after(async () => t.close());

  async function follow(firstUrl: string): Promise<{ seen: string[]; pages: number }> {
    const seen: string[] = [];
    let url: string | null = firstUrl;
    let pages = 0;
    while (url && pages < 50) {
      const res = await t.request({ method: 'GET', url });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<ExportPage>();
      assert.equal(page.count, page.events.length);
      assert.ok(Number.isInteger(page.end_time));
      seen.push(...page.events.map((e) => e.id));
      pages += 1;
      url = page.next_page ? new URL(page.next_page).pathname + new URL(page.next_page).search : null;
    }
    return { seen, pages };
  }

  it('from start_time 0 returns every event of the account, oldest first, then next_page null', async () => {
    const { seen, pages } = await follow('/api/v2/tickets/side_conversations/events.json?start_time=0');
    assert.equal(pages, 1);
    assert.deepEqual(seen, eventIds);
  });

  it('small pages follow next_page until null and miss nothing, even inside one second', async () => {
    const { seen } = await follow('/api/v2/tickets/side_conversations/events?start_time=0&per_page=2');
    assert.deepEqual([...new Set(seen)].sort(), [...eventIds].sort());
  });

  it('a start_time in the future returns nothing and keeps end_time', async () => {
    const future = Math.floor(Date.now() / 1000) + 3600;
    const res = await t.request({ method: 'GET', url: `/api/v2/tickets/side_conversations/events?start_time=${future}` });
    assert.deepEqual(res.json(), { events: [], next_page: null, end_time: future, count: 0 });
  });

  it('start_time is required and must be a number; end-users and strangers are refused', async () => {
    const missing = await t.request({ method: 'GET', url: '/api/v2/tickets/side_conversations/events' });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json<{ error: string }>().error, 'InvalidParameter');
    const word = await t.request({ method: 'GET', url: '/api/v2/tickets/side_conversations/events?start_time=yesterday' });
    assert.equal(word.statusCode, 400);
    const anonymous = await t.request({ method: 'GET', url: '/api/v2/tickets/side_conversations/events?start_time=0', auth: null });
    assert.equal(anonymous.statusCode, 401);
    const endUser = await t.createUser('end-user');
    const refused = await t.request({ method: 'GET', url: '/api/v2/tickets/side_conversations/events?start_time=0', auth: endUser.auth });
    assert.equal(refused.statusCode, 403);
  });
});
