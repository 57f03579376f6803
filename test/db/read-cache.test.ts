import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReadCache } from '../../src/db/read-cache.js';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';

describe('ReadCache (the embedded store keeps hot reads until the next write)', () => {
  it('loads a key once, however many ask at the same time, and serves it from memory after', async () => {
    const cache = new ReadCache();
    let loads = 0;
    const load = async () => {
      loads += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { loads };
    };
    const values = await Promise.all(Array.from({ length: 20 }, () => cache.get('k', load)));
    assert.equal(loads, 1);
    assert.ok(values.every((v) => v === values[0]));
    assert.equal(await cache.get('k', load), values[0]);
    assert.equal(loads, 1);
  });

  it('a write drops every entry: the next read loads again', async () => {
    const cache = new ReadCache();
    let version = 1;
    const load = async () => version;
    assert.equal(await cache.get('k', load), 1);
    version = 2;
    assert.equal(await cache.get('k', load), 1, 'no write announced: the copy is served');
    cache.written();
    assert.equal(await cache.get('k', load), 2);
  });

  it('a load in flight when a write is sent is neither stored nor joined by later readers', async () => {
    const cache = new ReadCache();
    let release!: () => void;
    const slowOld = cache.get('k', () => new Promise<string>((resolve) => (release = () => resolve('old'))));
    cache.written();
    let freshLoads = 0;
    const fresh = cache.get('k', async () => {
      freshLoads += 1;
      return 'new';
    });
    release();
    assert.equal(await slowOld, 'old', 'the reader who asked before the write gets what it read');
    assert.equal(await fresh, 'new', 'a reader after the write does not join the older load');
    assert.equal(await cache.get('k', async () => 'unused'), 'new', 'the older result was not stored over the newer one');
    assert.equal(freshLoads, 1);
  });

  it('a failed load is not cached and the next read tries again', async () => {
    const cache = new ReadCache();
    await assert.rejects(cache.get('k', async () => Promise.reject(new Error('down'))), /down/);
    assert.equal(await cache.get('k', async () => 'up'), 'up');
  });

  it('holds at most maxEntries, dropping the oldest', async () => {
    const cache = new ReadCache(2);
    let loads = 0;
    const load = (v: string) => async () => {
      loads += 1;
      return v;
    };
    await cache.get('a', load('a'));
    await cache.get('b', load('b'));
    await cache.get('c', load('c'));
    assert.equal(loads, 3);
    await cache.get('c', load('c'));
    await cache.get('b', load('b'));
    assert.equal(loads, 3, 'b and c are kept');
    await cache.get('a', load('a'));
    assert.equal(loads, 4, 'a was dropped');
  });
});

interface ShowBody {
  side_conversation: { id: string; subject: string; state: string; preview_text: string; participants: Array<{ email: string | null }> };
}
interface ListBody {
  side_conversations: Array<{ id: string; subject: string }>;
  count: number;
}

describe(`Show and List never serve a stale copy (${STORE_KIND})`, () => {
  let t: TestApp;
  let ticketId: number;
  let scId: string;
  const path = () => `/api/v2/tickets/${ticketId}/side_conversations/${scId}`;

  before(async () => {
    t = await startTestApp();
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Cache', comment: { body: 'x' } } } });
    ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const created = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'First', body: 'hello', to: [{ email: 'one@example.com' }] } },
    });
    assert.equal(created.statusCode, 201, created.body);
    scId = created.json<ShowBody>().side_conversation.id;
  });
  after(async () => t.close());

  const show = async () => {
    const res = await t.request({ method: 'GET', url: path() });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<ShowBody>().side_conversation;
  };
  const list = async () => {
    const res = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<ListBody>();
  };

  it('an update through the API is seen by the next Show and List', async () => {
    assert.equal((await show()).subject, 'First');
    assert.equal((await list()).side_conversations[0]?.subject, 'First');
    const updated = await t.request({ method: 'PUT', url: path(), payload: { side_conversation: { subject: 'Second', state: 'closed' } } });
    assert.equal(updated.statusCode, 200, updated.body);
    const shown = await show();
    assert.equal(shown.subject, 'Second');
    assert.equal(shown.state, 'closed');
    assert.equal((await list()).side_conversations[0]?.subject, 'Second');
  });

  it('a reply that adds a recipient is seen in participants and preview at once', async () => {
    await show();
    const replied = await t.request({ method: 'POST', url: `${path()}/reply`, payload: { message: { body: 'A new preview', to: [{ email: 'two@example.com' }] } } });
    assert.equal(replied.statusCode, 200, replied.body);
    const shown = await show();
    assert.equal(shown.preview_text, 'A new preview');
    assert.deepEqual(
      shown.participants.map((p) => p.email).filter((e) => e !== t.admin.email),
      ['one@example.com', 'two@example.com'],
    );
  });

  it('a change made with SQL on the same store (not through the service) is seen by the next Show', async () => {
    await show();
    await t.db.updateTable('side_conversations').set({ subject: 'Changed by SQL' }).where('id', '=', scId).execute();
    assert.equal((await show()).subject, 'Changed by SQL');
  });

  it('a new conversation shows up in the List right after its Create, while Shows are in flight', async () => {
    const before = (await list()).count;
    const inFlight = Array.from({ length: 10 }, () => t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations` }));
    const created = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Another', body: 'hi', to: [{ email: 'three@example.com' }] } },
    });
    assert.equal(created.statusCode, 201, created.body);
    const after = await list();
    assert.equal(after.count, before + 1);
    assert.ok(after.side_conversations.some((sc) => sc.id === created.json<ShowBody>().side_conversation.id));
    for (const res of await Promise.all(inFlight)) assert.equal(res.statusCode, 200);
  });

  it("the events list shows a delivery's new status (written by the relay, not the API) at once", async () => {
    const eventsPath = `${path()}/events`;
    type EventsBody = { events: Array<{ id: string; message: { deliveries: Array<{ recipient: string; status: string }> } | null }> };
    const first = await t.request({ method: 'GET', url: eventsPath });
    assert.equal(first.statusCode, 200, first.body);
    const created = first.json<EventsBody>().events[0]!;
    assert.equal(created.message?.deliveries[0]?.status, 'queued');
    await t.db.updateTable('deliveries').set({ status: 'sent' }).where('event_id', '=', created.id).execute();
    const again = await t.request({ method: 'GET', url: eventsPath });
    assert.equal(again.json<EventsBody>().events[0]?.message?.deliveries[0]?.status, 'sent');
  });

  it('a conversation deleted with SQL is a 404 at once', async () => {
    await show();
    await t.db.deleteFrom('side_conversation_participants').where('side_conversation_id', '=', scId).execute();
    await t.db.deleteFrom('side_conversation_events').where('side_conversation_id', '=', scId).execute();
    await t.db.deleteFrom('email_messages').where('side_conversation_id', '=', scId).execute();
    await t.db.deleteFrom('deliveries').where('event_id', 'in', t.db.selectFrom('outbox').select('event_id').where('side_conversation_id', '=', scId)).execute();
    await t.db.deleteFrom('outbox').where('side_conversation_id', '=', scId).execute();
    await t.db.deleteFrom('side_conversations').where('id', '=', scId).execute();
    const res = await t.request({ method: 'GET', url: path() });
    assert.equal(res.statusCode, 404, res.body);
  });
});
