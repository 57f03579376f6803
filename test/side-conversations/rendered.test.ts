/**
 * Show's and List's conversations are rendered once per row version and kept (RenderedRows): what
 * they send must be what the write answered, byte for byte, whether kept or not, and a change made
 * by another process (here: straight into the store, on a connection of its own) or a participant
 * added must show at once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql, type Kysely } from 'kysely';
import { openStore, type Store } from '../../src/db/store.js';
import type { Database } from '../../src/db/types.js';
import { STORE_KIND } from '../helpers/app.js';
import type { ListBody, ShowBody } from '../helpers/api-types.js';
import { createSc, createTicket, get, scPath, t, useSideConversationsApp } from './fixture.js';

describe(`side conversations API (${STORE_KIND}): Show and List keep each conversation's JSON by row version`, () => {
  useSideConversationsApp();

  // Another process's connection on PostgreSQL; on the embedded store there is only the one store.
  let other: Store | undefined;
  let elsewhere: Kysely<Database>;
  before(async () => {
    if (t.databaseUrl) other = await openStore({ databaseUrl: t.databaseUrl, poolSize: 1 });
    elsewhere = other?.db ?? t.db;
  });
  after(async () => {
    await other?.close();
  });

  it('Show and List send a conversation as the write answered it, byte for byte, when it is rendered and when it is kept', async () => {
    const ticketId = await createTicket();
    const created = await createSc(ticketId, { subject: 'Bytes', body: 'Hello', to: [{ email: 'bob@example.com' }] });
    // The write's answer is serialised by Fastify from the route schema; parsing keeps its key order.
    const written = JSON.stringify(created.side_conversation);
    for (const round of ['rendered', 'kept']) {
      const show = await get(scPath(ticketId, created.side_conversation.id));
      assert.equal(show.statusCode, 200, show.body);
      assert.equal(show.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(show.body, `{"side_conversation":${written}}`, round);
      const list = await get(scPath(ticketId));
      assert.equal(list.statusCode, 200, list.body);
      assert.equal(list.body, `{"side_conversations":[${written}],"next_page":null,"previous_page":null,"count":1}`, round);
    }
  });

  it('a change written by another process is shown by the next Show and List', async () => {
    const ticketId = await createTicket();
    const created = await createSc(ticketId, { subject: 'Before', body: 'Hello', to: [{ email: 'bob@example.com' }] });
    const id = created.side_conversation.id;
    // Rendered and kept.
    for (let i = 0; i < 2; i += 1) {
      assert.equal((await get(scPath(ticketId, id))).json<ShowBody>().side_conversation.subject, 'Before');
      assert.equal((await get(scPath(ticketId))).json<ListBody>().side_conversations[0]!.subject, 'Before');
    }

    await sql`update side_conversations set subject = 'Changed elsewhere' where id = ${id}`.execute(elsewhere);
    const show = (await get(scPath(ticketId, id))).json<ShowBody>().side_conversation;
    assert.equal(show.subject, 'Changed elsewhere');
    assert.equal((await get(scPath(ticketId))).json<ListBody>().side_conversations[0]!.subject, 'Changed elsewhere');
  });

  it('a participant added by a reply is shown by the next Show and List', async () => {
    const ticketId = await createTicket();
    const created = await createSc(ticketId, { subject: 'Recipients', body: 'Hello', to: [{ email: 'bob@example.com' }] });
    const id = created.side_conversation.id;
    await get(scPath(ticketId, id));
    await get(scPath(ticketId)); // rendered and kept
    const reply = await t.request({ method: 'POST', url: `${scPath(ticketId, id)}/reply`, payload: { message: { body: 'Adding Carol', to: [{ email: 'bob@example.com' }, { email: 'carol@example.com' }] } } });
    assert.equal(reply.statusCode, 200, reply.body);
    const replied = reply.json<{ side_conversation: { participants: unknown[] } }>().side_conversation;
    assert.equal(replied.participants.length, created.side_conversation.participants.length + 1);
    assert.deepEqual((await get(scPath(ticketId, id))).json<ShowBody>().side_conversation.participants, replied.participants);
    assert.deepEqual((await get(scPath(ticketId))).json<ListBody>().side_conversations[0]!.participants, replied.participants);
  });

  it('a page mixes kept and freshly rendered conversations in the order of the page', async () => {
    const ticketId = await createTicket();
    const ids: string[] = [];
    for (const subject of ['One', 'Two', 'Three']) ids.push((await createSc(ticketId, { subject, body: 'Hi', to: [{ email: 'bob@example.com' }] })).side_conversation.id);
    await get(scPath(ticketId)); // all three rendered and kept
    await sql`update side_conversations set subject = 'Two, changed' where id = ${ids[1]!}`.execute(elsewhere);
    const list = (await get(scPath(ticketId))).json<ListBody>();
    assert.deepEqual(
      list.side_conversations.map((sc) => [sc.id, sc.subject]),
      [
        [ids[0], 'One'],
        [ids[1], 'Two, changed'],
        [ids[2], 'Three'],
      ],
    );
  });
});
