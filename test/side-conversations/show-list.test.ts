/**
 * Side Conversations REST API — Show and List, and their paging.
 * Checked against Zendesk's reference (seed/000_ab11591eae9ac2f8.txt) and API-NOTES.md; the world
 * and helpers are in fixture.ts. Every test makes its own ticket so the tests do not lean on each other.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STORE_KIND } from '../helpers/app.js';
import type { ErrorBody, ListBody, ShowBody, WriteBody } from '../helpers/api-types.js';
import { createSc, createTicket, emailSc, get, item, listSc, post, put, scPath, showSc, useSideConversationsApp } from './fixture.js';

describe(`side conversations API (${STORE_KIND})`, () => {
  useSideConversationsApp();

  describe('Show and List', () => {
    it('Show answers the same body on the plural, the singular (reference curl sample) and the .json paths', async () => {
      const ticketId = await createTicket();
      const sc = await emailSc(ticketId, 'Paths');
      const expected = { side_conversation: sc };
      for (const url of [
        `/api/v2/tickets/${ticketId}/side_conversations/${sc.id}`,
        `/api/v2/tickets/${ticketId}/side_conversations/${sc.id}.json`,
        `/api/v2/tickets/${ticketId}/side_conversation/${sc.id}`,
        `/api/v2/tickets/${ticketId}/side_conversation/${sc.id}.json`,
        `/api/v2/tickets/${ticketId}/side_conversations/${sc.id.toUpperCase()}`,
      ]) {
        const res = await get(url);
        assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
        const body = res.json<ShowBody>();
        if (url.includes(sc.id.toUpperCase())) assert.equal(body.side_conversation.id, sc.id);
        else assert.deepEqual(body, expected, url);
      }
    });

    it('Show ?include=events sideloads a top-level `events` array; without it there is none', async () => {
      const ticketId = await createTicket();
      const created = await createSc(ticketId, { subject: 'Events', body: 'Hello', to: [{ email: 'bob@example.com' }] });
      const id = created.side_conversation.id;
      const plain = await showSc(ticketId, id);
      assert.equal('events' in plain, false);
      for (const url of [`${scPath(ticketId, id)}?include=events`, `/api/v2/tickets/${ticketId}/side_conversation/${id}.json?include=events`]) {
        const res = await get(url);
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json<ShowBody>();
        assert.deepEqual(body.side_conversation, created.side_conversation);
        assert.deepEqual(body.events, [created.event]);
      }
    });

    it('List of a ticket without side conversations', async () => {
      const ticketId = await createTicket();
      const list = await listSc(ticketId);
      assert.deepEqual(list, { side_conversations: [], count: 0, next_page: null, previous_page: null });
    });

    it('List shows only this ticket\'s conversations, in creation order; ?include=events sideloads their events', async () => {
      const ticketId = await createTicket();
      const otherTicket = await createTicket();
      const a = await createSc(ticketId, { subject: 'First', body: 'one', to: [{ email: 'bob@example.com' }] });
      await emailSc(otherTicket, 'Elsewhere');
      const b = await createSc(ticketId, { subject: 'Second', body: 'two', to: [{ slack_workspace_id: 'T123ABC', slack_channel_id: 'C456DEF' }] });
      const closed = await put(ticketId, a.side_conversation.id, { side_conversation: { state: 'closed' } });
      assert.equal(closed.statusCode, 200);
      const closedEvent = closed.json<WriteBody>().event;

      for (const url of [scPath(ticketId), `${scPath(ticketId)}.json`]) {
        const res = await get(url);
        assert.equal(res.statusCode, 200, res.body);
        const list = res.json<ListBody>();
        assert.equal(list.count, 2);
        assert.equal(list.next_page, null);
        assert.equal(list.previous_page, null);
        assert.equal('events' in list, false);
        assert.deepEqual(
          list.side_conversations.map((s) => [s.id, s.subject, s.state]),
          [
            [a.side_conversation.id, 'First', 'closed'],
            [b.side_conversation.id, 'Second', 'open'],
          ],
        );
        assert.deepEqual(item(list.side_conversations, 1), b.side_conversation);
      }

      const withEvents = await listSc(ticketId, '?include=events');
      assert.equal(withEvents.count, 2);
      const events = withEvents.events;
      assert.ok(events);
      assert.equal(events.length, 3);
      assert.deepEqual(
        new Set(events.map((e) => e.id)),
        new Set([a.event?.id, b.event?.id, closedEvent?.id]),
      );
      for (const e of events) assert.ok([a.side_conversation.id, b.side_conversation.id].includes(e.side_conversation_id));
    });
  });

  describe('pagination', () => {
    async function fill(ticketId: number, n: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push((await emailSc(ticketId, `Conversation ${i + 1}`)).id);
      return ids;
    }

    it('per_page=2 over 5 conversations: 3 pages linked by absolute next/previous URLs, no duplicates or gaps', async () => {
      const ticketId = await createTicket();
      const ids = await fill(ticketId, 5);
      const seen: string[] = [];
      const pages: ListBody[] = [];
      let url: string | null = `${scPath(ticketId)}.json?per_page=2`;
      while (url !== null && pages.length < 10) {
        const res = await get(url);
        assert.equal(res.statusCode, 200, res.body);
        const page: ListBody = res.json<ListBody>();
        pages.push(page);
        seen.push(...page.side_conversations.map((s) => s.id));
        if (page.next_page === null) url = null;
        else {
          const link: URL = new URL(page.next_page);
          assert.match(page.next_page, /^https?:\/\//);
          url = `${link.pathname}${link.search}`;
        }
      }
      assert.equal(pages.length, 3);
      assert.deepEqual(seen, ids, 'creation order, each exactly once');
      assert.deepEqual(pages.map((p) => p.side_conversations.length), [2, 2, 1]);
      for (const p of pages) assert.equal(p.count, 5);

      const [p1, p2, p3] = [item(pages, 0), item(pages, 1), item(pages, 2)];
      assert.equal(p1.previous_page, null);
      assert.equal(p3.next_page, null);
      for (const [link, page] of [
        [p1.next_page, 2],
        [p2.previous_page, 1],
        [p2.next_page, 3],
        [p3.previous_page, 2],
      ] as const) {
        assert.ok(link);
        const parsed = new URL(link);
        assert.equal(parsed.origin, new URL(item(p1.side_conversations, 0).url).origin);
        assert.match(parsed.pathname, new RegExp(`^/api/v2/tickets/${ticketId}/side_conversations(\\.json)?$`));
        assert.equal(parsed.searchParams.get('page'), String(page));
        assert.equal(parsed.searchParams.get('per_page'), '2');
      }

      // Following previous_page from the last page gives back page 2.
      const back = await get(`${new URL(p3.previous_page!).pathname}${new URL(p3.previous_page!).search}`);
      assert.deepEqual(back.json<ListBody>(), p2);
    });

    it('links keep ?include=events and a page past the end is empty', async () => {
      const ticketId = await createTicket();
      await fill(ticketId, 3);
      const first = await listSc(ticketId, '?per_page=1&include=events');
      assert.equal(first.side_conversations.length, 1);
      assert.equal(first.events?.length, 1);
      assert.equal(item(first.events, 0).side_conversation_id, item(first.side_conversations, 0).id);
      assert.ok(first.next_page);
      assert.equal(new URL(first.next_page).searchParams.get('include'), 'events');

      const beyond = await listSc(ticketId, '?page=9&per_page=2');
      assert.deepEqual(beyond.side_conversations, []);
      assert.equal(beyond.count, 3);
      assert.equal(beyond.next_page, null);
      assert.ok(beyond.previous_page);
    });

    it('per_page above 100 is clamped to 100', async () => {
      const ticketId = await createTicket();
      const ids: string[] = [];
      for (let batch = 0; batch < 11; batch++) {
        const size = batch < 10 ? 10 : 1;
        const results = await Promise.all(
          Array.from({ length: size }, (_, i) =>
            post(ticketId, { message: { subject: `Bulk ${batch}-${i}`, body: 'bulk', to: [{ email: 'bulk@example.com' }] } }),
          ),
        );
        for (const res of results) {
          assert.equal(res.statusCode, 201, res.body);
          ids.push(res.json<WriteBody>().side_conversation.id);
        }
      }
      assert.equal(ids.length, 101);

      const first = await listSc(ticketId, '?per_page=500');
      assert.equal(first.count, 101);
      assert.equal(first.side_conversations.length, 100);
      assert.ok(first.next_page);
      assert.equal(new URL(first.next_page).searchParams.get('per_page'), '100');
      assert.equal(new URL(first.next_page).searchParams.get('page'), '2');
      const second = await listSc(ticketId, '?per_page=500&page=2');
      assert.equal(second.side_conversations.length, 1);
      assert.equal(second.next_page, null);
      assert.ok(second.previous_page);
      assert.equal(new URL(second.previous_page).searchParams.get('per_page'), '100');

      const all = [...first.side_conversations, ...second.side_conversations].map((s) => s.id);
      assert.equal(new Set(all).size, 101);
      assert.deepEqual(new Set(all), new Set(ids));

      // The default page size is the maximum.
      const byDefault = await listSc(ticketId);
      assert.equal(byDefault.side_conversations.length, 100);
      assert.deepEqual(byDefault.side_conversations.map((s) => s.id), first.side_conversations.map((s) => s.id));
    });

    for (const query of ['page=0', 'page=-1', 'page=abc', 'per_page=0', 'per_page=abc']) {
      it(`?${query} is a 400`, async () => {
        const ticketId = await createTicket();
        const res = await get(`${scPath(ticketId)}?${query}`);
        assert.equal(res.statusCode, 400, res.body);
        const body = res.json<ErrorBody>();
        assert.equal(typeof body.error, 'string');
        assert.notEqual(body.error, 'InternalError');
        assert.equal(typeof body.description, 'string');
      });
    }

    it('an offset of 10,000 or more is a 400 InvalidPaginationDepth; just below is allowed', async () => {
      const ticketId = await createTicket();
      await fill(ticketId, 1);
      for (const query of ['page=101&per_page=100', 'page=101&per_page=500', 'page=10001&per_page=1', 'page=5001&per_page=2', 'page=999999999']) {
        const res = await get(`${scPath(ticketId)}?${query}`);
        assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
        const body = res.json<ErrorBody>();
        assert.equal(body.error, 'InvalidPaginationDepth', query);
        assert.equal(typeof body.description, 'string');
      }
      const deepest = await listSc(ticketId, '?page=100&per_page=100');
      assert.deepEqual(deepest.side_conversations, []);
      assert.equal(deepest.count, 1);
      assert.equal(deepest.next_page, null);
      assert.ok(deepest.previous_page);
      const lastSingle = await listSc(ticketId, '?page=10000&per_page=1');
      assert.deepEqual(lastSingle.side_conversations, []);
    });
  });
});
