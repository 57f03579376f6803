/**
 * Stream cursors follow commit order (migration 0007, src/events/repo.ts): an event written first
 * but committed last is numbered after the one that committed first, so a reader that resumed
 * after the first never skips it. Needs two concurrent transactions: PostgreSQL only (the embedded
 * store is one session).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { feedAfter, sequenceFeed } from '../../src/events/repo.js';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';
import { expectStatus } from '../helpers/api.js';
import type { WriteBody } from '../helpers/api-types.js';

describe(`event feed order (${STORE_KIND})`, { skip: STORE_KIND !== 'postgres' }, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => t?.close());

  async function newConversation(): Promise<{ ticketId: number; scId: string }> {
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Order', comment: { body: 'x' } } } });
    expectStatus(ticket, 201);
    const ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const sc = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations`, payload: { message: { body: 'Hi', to: [{ email: 'v@example.com' }] } } });
    expectStatus(sc, 201);
    return { ticketId, scId: sc.json<WriteBody>().side_conversation.id };
  }

  const replyRow = (accountId: number, c: { ticketId: number; scId: string }, body: string) => [randomUUID(), accountId, c.scId, c.ticketId, JSON.stringify({ body })];
  const INSERT = `insert into side_conversation_events (id, account_id, side_conversation_id, ticket_id, type, via, message)
                  values ($1, $2, $3, $4, 'reply', 'api', $5::jsonb)`;

  it('numbers an event written first but committed last after the one committed first', async () => {
    const early = await newConversation();
    const late = await newConversation();
    let cursor = await sequenceFeed(t.db, t.accountId);

    const slow = new pg.Client({ connectionString: t.databaseUrl });
    await slow.connect();
    try {
      await slow.query('begin');
      await slow.query(INSERT, replyRow(t.accountId, early, 'written first'));
      // Committed meanwhile, by another connection, with a later write_order.
      await t.db.transaction().execute(async (trx) => {
        const [id, accountId, scId, ticketId, message] = replyRow(t.accountId, late, 'committed first');
        await trx
          .insertInto('side_conversation_events')
          .values({ id: id as string, account_id: accountId as number, side_conversation_id: scId as string, ticket_id: ticketId as number, type: 'reply', via: 'api', message: message as string })
          .execute();
      });

      await sequenceFeed(t.db, t.accountId);
      const first = await feedAfter(t.db, t.accountId, cursor, 100);
      assert.deepEqual(first.map((r) => r.side_conversation_id), [late.scId], 'only the committed event is numbered');
      cursor = first[0]!.position!;

      await slow.query('commit');
      await sequenceFeed(t.db, t.accountId);
      const second = await feedAfter(t.db, t.accountId, cursor, 100);
      assert.deepEqual(second.map((r) => r.side_conversation_id), [early.scId], 'the late commit comes after the cursor, not before it');
      assert.ok(second[0]!.write_order < first[0]!.write_order, 'it was written first: a write-time sequence would have put it behind the cursor');
    } finally {
      await slow.end();
    }
  });
});
