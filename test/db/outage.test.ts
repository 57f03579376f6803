/**
 * A PostgreSQL that drops our connections (pg_terminate_backend, a restart) or refuses new ones
 * must not end the process: requests meanwhile get a Zendesk-style 503 with Retry-After, /readyz
 * says 503 while /healthz stays 200, the pool reconnects by itself, and every 201 was committed.
 * PostgreSQL only: the embedded store has no connections to lose.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTempDatabase, STORE_KIND } from '../helpers/app.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

const ADMIN = { SIDELINE_ADMIN_EMAIL: 'owner@example.com', SIDELINE_ADMIN_PASSWORD: 'a-long-admin-password' };
const AUTH = `Basic ${Buffer.from(`${ADMIN.SIDELINE_ADMIN_EMAIL}:${ADMIN.SIDELINE_ADMIN_PASSWORD}`).toString('base64')}`;
const skip = STORE_KIND === 'postgres' ? false : 'PostgreSQL only (set DATABASE_URL): the embedded store has no connections to drop';

interface Answer {
  status: number;
  body: Record<string, unknown> | null;
  retryAfter: string | null;
  error?: string;
}

async function call(baseUrl: string, method: string, path: string, json?: unknown): Promise<Answer> {
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: AUTH, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let body: Record<string, unknown> | null = null;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body, retryAfter: res.headers.get('retry-after') };
  } catch (error) {
    return { status: 0, body: null, retryAfter: null, error: String(error) };
  }
}

const UNAVAILABLE_BODY = { error: 'DatabaseUnavailable', description: 'The database is unavailable right now; try again shortly.' };

describe('a PostgreSQL that drops or refuses connections', { skip }, () => {
  let database: { url: string; drop(): Promise<void> };
  let admin: pg.Client;
  let sink: SmtpSink;
  let server: ServerProcess;
  let databaseName: string;

  before(async () => {
    database = await createTempDatabase(process.env['DATABASE_URL']!, `sideline_outage_${process.pid}`);
    databaseName = new URL(database.url).pathname.slice(1);
    admin = new pg.Client({ connectionString: process.env['DATABASE_URL'] });
    admin.on('error', () => undefined);
    await admin.connect();
    sink = await startSmtpSink();
    // The relay runs inside the server, so it loses its connections too.
    server = await startServer({ DATABASE_URL: database.url, DATA_DIR: '', SMTP_URL: sink.url, RELAY: 'on', RELAY_POLL_MS: '50', ...ADMIN });
  });

  after(async () => {
    await server?.stop();
    await admin?.query(`alter database ${databaseName} allow_connections true`).catch(() => undefined);
    await admin?.end();
    await sink?.close();
    await database?.drop();
  });

  /** Ends every connection of the test database (ours: this database is made for this file). */
  const terminateAll = async (): Promise<number> => {
    const result = await admin.query<{ pid: number }>(
      'select pg_terminate_backend(pid) as pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [databaseName],
    );
    return result.rowCount ?? 0;
  };

  it('keeps serving through pg_terminate_backend under concurrent creates, and every 201 is committed', async () => {
    const ticket = await call(server.baseUrl, 'POST', '/api/v2/tickets', { ticket: { subject: 'Outage probe', comment: { body: 'Connections will be dropped' } } });
    assert.equal(ticket.status, 201, JSON.stringify(ticket));
    const ticketId = Number((ticket.body!['ticket'] as { id: number }).id);

    let stop = false;
    let n = 0;
    const answers: Array<Answer & { n: number }> = [];
    const worker = async () => {
      while (!stop) {
        const mine = n++;
        const answer = await call(server.baseUrl, 'POST', `/api/v2/tickets/${ticketId}/side_conversations`, {
          message: { subject: `outage #${mine}`, body: 'Still there?', to: [{ email: `outage${mine}@example.com` }] },
        });
        answers.push({ ...answer, n: mine });
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    let terminated = 0;
    for (let round = 0; round < 6; round++) {
      await new Promise((r) => setTimeout(r, 400));
      terminated += await terminateAll();
    }
    // Load goes on a while after the last cut: the pool has to reconnect by itself.
    const createdBeforeEnd = answers.filter((a) => a.status === 201).length;
    await new Promise((r) => setTimeout(r, 2_000));
    stop = true;
    await Promise.all(workers);

    assert.ok(terminated >= 6, `expected connections to terminate, ended ${terminated}`);
    assert.ok(server.alive(), `the server exited:\n${server.output().slice(-3000)}`);
    assert.doesNotMatch(server.output(), /Unhandled 'error' event|uncaughtException/);
    const created = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status !== 201);
    assert.ok(created.length > createdBeforeEnd, `no create succeeded after the last cut (${createdBeforeEnd} before, ${created.length} in all)`);
    for (const a of refused) {
      assert.equal(a.status, 503, `#${a.n}: ${JSON.stringify(a)}`);
      assert.deepEqual(a.body, UNAVAILABLE_BODY);
      assert.equal(a.retryAfter, '5');
    }

    // Every acknowledged create is there, read back through the API and in SQL.
    const check = new pg.Client({ connectionString: database.url });
    await check.connect();
    try {
      const ids = created.map((a) => String((a.body!['side_conversation'] as { id: string }).id));
      const rows = await check.query<{ id: string; subject: string }>('select id::text as id, subject from side_conversations where id::text = any($1)', [ids]);
      assert.equal(rows.rowCount, ids.length, 'every 201 has its row');
      const outbox = await check.query<{ n: number }>('select count(distinct side_conversation_id)::int as n from outbox where side_conversation_id::text = any($1)', [ids]);
      assert.equal(outbox.rows[0]!.n, ids.length, 'every 201 has its outbox row');
    } finally {
      await check.end();
    }
    const first = created[0]!;
    const show = await call(server.baseUrl, 'GET', `/api/v2/tickets/${ticketId}/side_conversations/${String((first.body!['side_conversation'] as { id: string }).id)}`);
    assert.equal(show.status, 200, JSON.stringify(show));

    // The relay lost its connections as well, and still delivers everything acknowledged.
    await sink.waitForMessages(created.length, 60_000);
  });

  it('answers 503 with Retry-After while the database refuses connections, /readyz 503, /healthz 200, and recovers by itself', async () => {
    await admin.query(`alter database ${databaseName} allow_connections false`);
    try {
      await terminateAll();
      const list = await call(server.baseUrl, 'GET', '/api/v2/tickets');
      assert.equal(list.status, 503, JSON.stringify(list));
      assert.deepEqual(list.body, UNAVAILABLE_BODY);
      assert.equal(list.retryAfter, '5');
      const ready = await fetch(`${server.baseUrl}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'unavailable', reason: 'store unreachable' });
      const health = await fetch(`${server.baseUrl}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
    } finally {
      await admin.query(`alter database ${databaseName} allow_connections true`);
    }
    const ready = await fetch(`${server.baseUrl}/readyz`);
    assert.equal(ready.status, 200);
    const list = await call(server.baseUrl, 'GET', '/api/v2/tickets');
    assert.equal(list.status, 200, JSON.stringify(list));
    assert.ok(server.alive());
  });
});
