/**
 * A backlog of over a thousand queued emails drained by several relays on one PostgreSQL, each with
 * its own connection pool and several workers: every message reaches the SMTP sink exactly once,
 * every row ends delivered, and no pass fails (claim, renew and record used to deadlock here, and
 * rows of a failed pass kept being renewed by later passes without ever being delivered).
 * PostgreSQL only: the embedded store is one process's, with one relay.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import pg from 'pg';
import { openStore, type Store } from '../../src/db/store.js';
import { DatabaseBlobStore } from '../../src/attachments/storage.js';
import { createEmailChannel, smtpSink } from '../../src/channels/email/deliver.js';
import { Relay, type RelayLogger } from '../../src/outbox/relay.js';
import { STORE_KIND, startTestApp, type TestApp } from '../helpers/app.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { messageIdOf, sentMessageIds } from '../helpers/message-ids.js';

const skip = STORE_KIND === 'postgres' ? false : 'PostgreSQL only (set DATABASE_URL): several relays need a shared store';
const MESSAGES = 1_200;
const RELAYS = 4;

interface Logged {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function capture(entries: Logged[]): RelayLogger {
  const at = (level: Logged['level']) => (obj: object, msg?: string) => void entries.push({ level, obj: obj as Record<string, unknown>, msg });
  return { info: () => undefined, warn: at('warn'), error: at('error') };
}

describe('a backlog drained by several relays', { skip }, () => {
  let t: TestApp;
  let sink: SmtpSink;
  const stores: Store[] = [];

  before(async () => {
    t = await startTestApp();
    sink = await startSmtpSink();
  });

  after(async () => {
    for (const store of stores) await store.close();
    await sink?.close();
    await t?.close();
  });

  it(`delivers ${MESSAGES} queued emails exactly once with ${RELAYS} relays, without a failed pass`, { timeout: 600_000 }, async () => {
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Backlog', comment: { body: 'Many vendors' } } } });
    assert.equal(ticket.statusCode, 201, ticket.body);
    const ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const eventIds: string[] = [];
    let next = 0;
    const create = async () => {
      while (next < MESSAGES) {
        const n = next++;
        const res = await t.request({
          method: 'POST',
          url: `/api/v2/tickets/${ticketId}/side_conversations`,
          payload: { message: { subject: `Backlog ${n}`, body: `Message ${n}`, to: [{ email: `vendor${n}@example.com` }] } },
        });
        assert.equal(res.statusCode, 201, res.body);
        eventIds.push(res.json<{ event: { id: string } }>().event.id);
      }
    };
    await Promise.all(Array.from({ length: 8 }, create));
    const queued = await t.db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow();
    assert.equal(Number(queued.n), MESSAGES);

    // Each relay as its own process would have it: its own pool on the same database.
    const { rows: [current] } = await sql<{ name: string }>`select current_database() as name`.execute(t.db);
    const databaseUrl = new URL(process.env['DATABASE_URL']!);
    databaseUrl.pathname = `/${current!.name}`;
    const logs: Logged[] = [];
    const relays: Relay[] = [];
    const mailSinks: Array<{ close(): void }> = [];
    for (let i = 0; i < RELAYS; i++) {
      const store = await openStore({ databaseUrl: databaseUrl.toString(), poolSize: 6 });
      stores.push(store);
      const mail = smtpSink(sink.url);
      mailSinks.push(mail);
      const relay = new Relay({
        db: store.db,
        logger: capture(logs),
        relayId: `flood-${i}`,
        pollMs: 50,
        batchSize: 25,
        concurrency: 4,
        channels: { email: createEmailChannel({ db: store.db, blobs: new DatabaseBlobStore(store.db), sink: mail, inboundDomain: 'inbound.test' }) },
      });
      relays.push(relay);
    }
    const started = Date.now();
    for (const relay of relays) relay.start();
    try {
      await sink.waitForMessages(MESSAGES, 300_000);
      // Let the relays record the last outcomes (and show any message sent twice).
      for (;;) {
        const pending = await t.db.selectFrom('outbox').select('id').where('status', '!=', 'delivered').limit(1).execute();
        if (pending.length === 0) break;
        assert.ok(Date.now() - started < 360_000, 'the outbox did not drain');
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
      for (const mail of mailSinks) mail.close();
    }

    const ids = sink.messages.map((m) => messageIdOf(m.raw));
    const seen = new Map<string, number>();
    for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
    const twice = [...seen].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'no message was sent twice');
    assert.deepEqual([...seen.keys()].sort(), (await sentMessageIds(t.db, eventIds)).sort(), 'every queued message was sent');
    const failedPasses = logs.filter((l) => l.msg === 'relay pass failed');
    assert.deepEqual(failedPasses.map((l) => String((l.obj['err'] as Error | undefined)?.message)), [], 'no relay pass failed');
    assert.deepEqual(logs.filter((l) => l.level === 'error'), []);
    const rows = await t.db.selectFrom('outbox').select(['status', 'attempts', 'claimed_by']).execute();
    assert.equal(rows.length, MESSAGES);
    assert.ok(rows.every((r) => r.status === 'delivered' && r.attempts === 1), 'every row delivered at its first claim');
    const byRelay = new Map<string, number>();
    for (const r of rows) byRelay.set(String(r.claimed_by), (byRelay.get(String(r.claimed_by)) ?? 0) + 1);
    assert.ok(byRelay.size >= 2, `the relays shared the work: ${JSON.stringify([...byRelay])}`);
    const deliveries = await t.db.selectFrom('deliveries').select('status').where('status', '!=', 'sent').execute();
    assert.equal(deliveries.length, 0, 'every delivery is sent');
    process.stdout.write(`# drained ${MESSAGES} by ${RELAYS} relays in ${Date.now() - started} ms: ${JSON.stringify(Object.fromEntries(byRelay))}\n`);
  });

  it('a pass that fails midway (the database refuses connections) leaves no row stranded: every one is delivered exactly once', { timeout: 120_000 }, async () => {
    await t.db.updateTable('outbox').set({ status: 'failed', claimed_until: null }).where('status', '=', 'pending').execute();
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Outage mid-pass', comment: { body: 'x' } } } });
    const ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const eventIds: string[] = [];
    for (let n = 0; n < 6; n++) {
      const res = await t.request({
        method: 'POST',
        url: `/api/v2/tickets/${ticketId}/side_conversations`,
        payload: { message: { subject: `Mid-pass ${n}`, body: `Message ${n}`, to: [{ email: `midpass${n}@example.com` }] } },
      });
      assert.equal(res.statusCode, 201, res.body);
      eventIds.push(res.json<{ event: { id: string } }>().event.id);
    }
    const { rows: [current] } = await sql<{ name: string }>`select current_database() as name`.execute(t.db);
    const databaseUrl = new URL(process.env['DATABASE_URL']!);
    databaseUrl.pathname = `/${current!.name}`;
    const admin = new pg.Client({ connectionString: process.env['DATABASE_URL'] });
    admin.on('error', () => undefined);
    await admin.connect();
    const store = await openStore({ databaseUrl: databaseUrl.toString(), poolSize: 2 });
    stores.push(store);
    const slow = await startSmtpSink({ delayMs: 400 });
    const mail = smtpSink(slow.url);
    const logs: Logged[] = [];
    const relay = new Relay({
      db: store.db,
      logger: capture(logs),
      relayId: 'mid-pass',
      pollMs: 100,
      batchSize: 6,
      concurrency: 1,
      channels: { email: createEmailChannel({ db: store.db, blobs: new DatabaseBlobStore(store.db), sink: mail, inboundDomain: 'inbound.test' }) },
    });
    relay.start();
    try {
      // The first message is at the sink, its answer still pending: now the database goes away.
      while (slow.attempts.length === 0 && slow.messages.length === 0) await new Promise((r) => setTimeout(r, 10));
      await admin.query(`alter database ${current!.name} allow_connections false`);
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [current!.name]);
      await new Promise((r) => setTimeout(r, 1_500));
      await admin.query(`alter database ${current!.name} allow_connections true`);
      await slow.waitForMessages(6, 60_000);
      for (;;) {
        const left = await t.db.selectFrom('outbox').select('id').where('event_id', 'in', eventIds).where('status', '!=', 'delivered').execute();
        if (left.length === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await admin.query(`alter database ${current!.name} allow_connections true`).catch(() => undefined);
      await admin.end();
      await relay.stop();
      mail.close();
      await slow.close();
    }
    assert.ok(logs.some((l) => l.msg === 'relay pass failed'), 'the outage did fail a pass');
    const ids = slow.messages.map((m) => messageIdOf(m.raw));
    assert.deepEqual([...ids].sort(), (await sentMessageIds(t.db, eventIds)).sort(), 'each message exactly once');
  });
});
