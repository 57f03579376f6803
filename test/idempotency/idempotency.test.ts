/**
 * Idempotency-Key on Create, Reply, Update, ticket create and upload (issue 12 §2): the same key and
 * request replays the first answer without writing again; another request under the key is a 422
 * naming the header; concurrent requests with one key write once; a second request waits for the
 * first (then replays) or gets a 409; a refused first request frees the key; keys are per user and
 * expire after 24 hours.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { countRows, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { assertValidation, expectStatus, multipartFile } from '../helpers/api.js';
import type { WriteBody } from '../helpers/api-types.js';

describe(`Idempotency-Key (${STORE_KIND})`, () => {
  let t: TestApp;
  let agent: TestUser;
  let other: TestUser;
  let ticketId: number;

  before(async () => {
    t = await startTestApp({}, { idempotencyWaitMs: 600 });
    agent = await t.createUser('agent', 'Agent Smith');
    other = await t.createUser('agent', 'Agent Jones');
    const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Base', comment: { body: 'x' } } } });
    expectStatus(res, 201);
    ticketId = res.json<{ ticket: { id: number } }>().ticket.id;
  });
  after(async () => t?.close());

  const createBody = (body = 'Any toner?') => ({ message: { subject: 'Toner', body, to: [{ email: 'vendor@example.com' }] } });

  function create(key: string | undefined, payload: unknown = createBody(), user = agent) {
    return t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: payload as Record<string, unknown>,
      headers: key === undefined ? {} : { 'idempotency-key': key },
      auth: user.auth,
    });
  }

  it('replays the first answer of a Create for the same key and body, without writing again', async () => {
    const key = randomUUID();
    const first = await create(key);
    expectStatus(first, 201);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    const scs = await countRows(t.db, 'side_conversations');
    const events = await countRows(t.db, 'side_conversation_events');
    const outbox = await countRows(t.db, 'outbox');

    const again = await create(key);
    expectStatus(again, 201);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.deepEqual(again.json(), first.json());
    assert.equal(await countRows(t.db, 'side_conversations'), scs);
    assert.equal(await countRows(t.db, 'side_conversation_events'), events);
    assert.equal(await countRows(t.db, 'outbox'), outbox, 'nothing is queued for delivery twice');

    // Without a key, the same body is a new write.
    expectStatus(await create(undefined), 201);
    assert.equal(await countRows(t.db, 'side_conversations'), scs + 1);
  });

  it('refuses the same key with a different body (422 naming the header), and keys badly formed', async () => {
    const key = randomUUID();
    expectStatus(await create(key), 201);
    const before = await countRows(t.db, 'side_conversations');
    assertValidation(await create(key, createBody('Something else')), 'Idempotency-Key');
    assertValidation(await create('x'.repeat(256)), 'Idempotency-Key');
    assertValidation(await create('with space'), 'Idempotency-Key');
    assert.equal(await countRows(t.db, 'side_conversations'), before);
  });

  it('keeps keys per user, frees a key whose first request was refused, and forgets keys after 24 hours', async () => {
    const key = randomUUID();
    const mine = await create(key);
    expectStatus(mine, 201);
    const theirs = await create(key, createBody(), other);
    expectStatus(theirs, 201);
    assert.equal(theirs.headers['idempotent-replayed'], undefined);
    assert.notEqual(theirs.json<WriteBody>().side_conversation.id, mine.json<WriteBody>().side_conversation.id);

    const refusedKey = randomUUID();
    assertValidation(await create(refusedKey, { message: { subject: 'Toner', body: 'x', to: [] } }), 'message.to');
    const fixed = await create(refusedKey, { message: { subject: 'Toner', body: 'x', to: [{ email: 'vendor@example.com' }] } });
    expectStatus(fixed, 201);
    assert.equal(fixed.headers['idempotent-replayed'], undefined);

    await t.db.updateTable('idempotency_keys').set({ created_at: sql`now() - interval '25 hours'` }).where('key', '=', key).where('user_id', '=', agent.id).execute();
    const expired = await create(key);
    expectStatus(expired, 201);
    assert.equal(expired.headers['idempotent-replayed'], undefined);
    assert.notEqual(expired.json<WriteBody>().side_conversation.id, mine.json<WriteBody>().side_conversation.id);
  });

  it('writes once for concurrent requests with one key: every answer is the first one', async () => {
    const key = randomUUID();
    const before = await countRows(t.db, 'side_conversations');
    const answers = await Promise.all([create(key), create(key), create(key), create(key)]);
    for (const res of answers) expectStatus(res, 201);
    assert.equal(await countRows(t.db, 'side_conversations'), before + 1);
    const ids = new Set(answers.map((res) => res.json<WriteBody>().side_conversation.id));
    assert.equal(ids.size, 1);
    assert.equal(answers.filter((res) => res.headers['idempotent-replayed'] === 'true').length, 3);
  });

  it('makes a second request wait for a first still running: it replays once the first answers, else 409', async () => {
    const key = randomUUID();
    const first = await create(key);
    expectStatus(first, 201);
    const stored = await t.db.selectFrom('idempotency_keys').select(['response_status']).where('key', '=', key).executeTakeFirstOrThrow();
    // As if the first were still running.
    await t.db.updateTable('idempotency_keys').set({ response_status: null }).where('key', '=', key).execute();
    const conflict = await create(key);
    expectStatus(conflict, 409);
    assert.equal(conflict.json<{ error: string }>().error, 'Conflict');

    const waiting = create(key);
    await new Promise((r) => setTimeout(r, 150));
    await t.db.updateTable('idempotency_keys').set({ response_status: stored.response_status }).where('key', '=', key).execute();
    const replayed = await waiting;
    expectStatus(replayed, 201);
    assert.equal(replayed.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replayed.json(), first.json());
  });

  it('replays Reply, Update, ticket create and upload too', async () => {
    const sc = (await create(undefined)).json<WriteBody>().side_conversation.id;
    const cases: Array<{ label: string; send: () => Promise<import('fastify').LightMyRequestResponse>; table: 'side_conversation_events' | 'tickets' | 'attachments' }> = [];
    const replyKey = randomUUID();
    cases.push({
      label: 'reply',
      table: 'side_conversation_events',
      send: () => t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/${sc}/reply`, payload: { message: { body: 'Again?' } }, headers: { 'idempotency-key': replyKey } }),
    });
    const updateKey = randomUUID();
    cases.push({
      label: 'update',
      table: 'side_conversation_events',
      send: () => t.request({ method: 'PUT', url: `/api/v2/tickets/${ticketId}/side_conversations/${sc}`, payload: { side_conversation: { subject: 'Renamed once' } }, headers: { 'idempotency-key': updateKey } }),
    });
    const ticketKey = randomUUID();
    cases.push({
      label: 'ticket create',
      table: 'tickets',
      send: () => t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Once', comment: { body: 'x' } } }, headers: { 'idempotency-key': ticketKey } }),
    });
    const uploadKey = randomUUID();
    cases.push({
      label: 'upload',
      table: 'attachments',
      send: () => {
        const { payload, headers } = multipartFile('note.txt', 'text/plain', Buffer.from('hello'));
        return t.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', payload, headers: { ...headers, 'idempotency-key': uploadKey } });
      },
    });
    for (const { label, send, table } of cases) {
      const first = await send();
      assert.ok(first.statusCode === 200 || first.statusCode === 201, `${label}: ${first.statusCode} ${first.body}`);
      const rows = await countRows(t.db, table);
      const again = await send();
      assert.equal(again.statusCode, first.statusCode, label);
      assert.equal(again.headers['idempotent-replayed'], 'true', label);
      assert.deepEqual(again.json(), first.json(), label);
      assert.equal(await countRows(t.db, table), rows, `${label}: written once`);
    }
    // An upload of other bytes under the upload's key is another request.
    const { payload, headers } = multipartFile('note.txt', 'text/plain', Buffer.from('other bytes'));
    assertValidation(await t.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', payload, headers: { ...headers, 'idempotency-key': uploadKey } }), 'Idempotency-Key');
  });
});
