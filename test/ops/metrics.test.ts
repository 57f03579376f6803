/**
 * GET /metrics: off without METRICS_TOKEN, Bearer token required, HTTP counters by route pattern,
 * the outbox gauges and the relay's counters moving with real deliveries (through the loopback
 * SMTP sink), the pool gauges, and a scrape that still answers while the store is down.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { ADMIN_EMAIL, ADMIN_PASSWORD, basic, openTestStore, startTestApp, STORE_KIND, testConfig } from '../helpers/app.js';
import { expectStatus, UNAUTHORIZED } from '../helpers/api.js';
import type { WriteBody } from '../helpers/api-types.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { buildApp } from '../../src/app.js';
import { ensureAccountAndAdmin } from '../../src/accounts/accounts.js';
import { DatabaseBlobStore } from '../../src/attachments/storage.js';
import { createEmailChannel, smtpSink, type MailSink } from '../../src/channels/email/deliver.js';
import { Metrics } from '../../src/ops/metrics.js';
import { NO_READ_CACHE } from '../../src/db/read-cache.js';
import { appOptionsFor } from '../../src/runtime.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { Relay } from '../../src/outbox/relay.js';
import type { Store } from '../../src/db/store.js';
import type { Database } from '../../src/db/types.js';

const TOKEN = 'metrics-token-0123456789abcdef';
const ADMIN = basic(ADMIN_EMAIL, ADMIN_PASSWORD);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample of `name` whose labels include `labels`, or undefined. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

describe(`GET /metrics (${STORE_KIND})`, () => {
  let store: Store;
  let drop: () => Promise<void>;
  let app: FastifyInstance;
  let metrics: Metrics;
  let smtp: SmtpSink;
  let sink: MailSink;
  let relay: Relay;
  let ticketId = 0;

  const request = (options: InjectOptions) => app.inject({ ...options, headers: { authorization: ADMIN, ...(options.headers ?? {}) } });
  async function scrape(): Promise<Sample[]> {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expectStatus(res, 200);
    return parseSamples(res.body);
  }
  async function outboxRowOf(eventId: string) {
    return store.db.selectFrom('outbox').selectAll().where('event_id', '=', eventId).executeTakeFirstOrThrow();
  }

  before(async () => {
    ({ store, drop } = await openTestStore());
    await ensureAccountAndAdmin(store.db, { adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD });
    metrics = new Metrics({ db: store.db, poolStats: () => store.poolStats() });
    app = await buildApp(appOptionsFor(testConfig({ metricsToken: TOKEN }), store, metrics));
    await app.ready();
    smtp = await startSmtpSink();
    sink = smtpSink(smtp.url);
    relay = new Relay({
      db: store.db,
      logger: { info() {}, warn() {}, error() {} },
      observer: metrics.relayObserver,
      channels: { email: createEmailChannel({ db: store.db, blobs: new DatabaseBlobStore(store.db), sink, inboundDomain: 'sideline.localhost' }) },
    });
    const ticket = await request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Metered', comment: { body: 'x' } } } });
    expectStatus(ticket, 201);
    ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
  });
  after(async () => {
    sink?.close();
    await smtp?.close();
    await app?.close();
    await drop?.();
  });

  it('answers 401 without the Bearer token, with a wrong one, or with an agent login', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['no credentials', {}],
      ['wrong token', { authorization: 'Bearer metrics-token-0123456789abcdeX' }],
      ['the token as Basic', { authorization: `Basic ${Buffer.from(TOKEN).toString('base64')}` }],
      ['an admin login', { authorization: ADMIN }],
    ];
    for (const [label, headers] of cases) {
      const res = await app.inject({ method: 'GET', url: '/metrics', headers });
      assert.equal(res.statusCode, 401, label);
      assert.deepEqual(res.json(), UNAUTHORIZED, label);
      assert.match(String(res.headers['www-authenticate']), /^Bearer/, label);
      assert.ok(!res.body.includes('sideline_'), label);
    }
    const ok = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expectStatus(ok, 200);
    assert.match(String(ok.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(ok.body, /# TYPE sideline_http_request_duration_seconds histogram/);
    assert.match(ok.body, /# TYPE process_cpu_user_seconds_total counter/);
  });

  it('counts requests by route pattern and status, never by raw URL', async () => {
    const labels = { method: 'GET', route: '/api/v2/tickets/:id', status_code: '200' };
    const missing = { method: 'GET', route: '/api/v2/tickets/:id', status_code: '404' };
    const before = await scrape();
    expectStatus(await request({ method: 'GET', url: `/api/v2/tickets/${ticketId}` }), 200);
    expectStatus(await request({ method: 'GET', url: `/api/v2/tickets/${ticketId}.json` }), 200);
    expectStatus(await request({ method: 'GET', url: '/api/v2/tickets/987654321' }), 404);
    expectStatus(await request({ method: 'GET', url: '/no/such/path/555777' }), 404);
    expectStatus(await app.inject({ method: 'GET', url: `/api/v2/tickets/${ticketId}` }), 401);
    const now = await scrape();
    const delta = (name: string, l: Record<string, string>) => (valueOf(now, name, l) ?? 0) - (valueOf(before, name, l) ?? 0);
    assert.equal(delta('sideline_http_requests_total', labels), 2);
    assert.equal(delta('sideline_http_request_duration_seconds_count', labels), 2);
    assert.equal(delta('sideline_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }), 2);
    assert.ok((valueOf(now, 'sideline_http_request_duration_seconds_sum', labels) ?? 0) > 0);
    assert.equal(delta('sideline_http_requests_total', missing), 1);
    assert.equal(delta('sideline_http_requests_total', { route: '/api/v2/tickets/:id', status_code: '401' }), 1);
    assert.equal(delta('sideline_http_requests_total', { route: 'unmatched', status_code: '404' }), 1);
    const routes = new Set(now.filter((s) => s.name === 'sideline_http_requests_total').map((s) => s.labels['route']));
    for (const route of routes) assert.ok(!/987654321|555777|\.json/.test(route ?? ''), `a raw URL became a label: ${route}`);
  });

  it('shows the outbox queue per channel, and the relay counts sent, retried and failed deliveries', async () => {
    const empty = await scrape();
    assert.equal(valueOf(empty, 'sideline_outbox_queued', { channel: 'email' }), 0);
    assert.equal(valueOf(empty, 'sideline_outbox_oldest_queued_age_seconds', { channel: 'email' }), 0);
    assert.equal(valueOf(empty, 'sideline_outbox_queued', { channel: 'msteams' }), 0);

    const created = await request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Parts', body: 'Any in stock?', to: [{ email: 'vendor@example.com' }] } },
    });
    expectStatus(created, 201);
    const { side_conversation: sc, event } = created.json<WriteBody>();
    await store.db.updateTable('outbox').set({ created_at: sql`now() - interval '90 seconds'` }).where('event_id', '=', event!.id).execute();
    const queued = await scrape();
    assert.equal(valueOf(queued, 'sideline_outbox_queued', { channel: 'email' }), 1);
    const age = valueOf(queued, 'sideline_outbox_oldest_queued_age_seconds', { channel: 'email' }) ?? 0;
    assert.ok(age >= 89 && age < 600, `age ${age}`);

    assert.equal(await relay.runOnce(), 1);
    const sent = await scrape();
    assert.equal(valueOf(sent, 'sideline_outbox_deliveries_total', { channel: 'email', result: 'sent' }), 1);
    assert.equal(valueOf(sent, 'sideline_outbox_queued', { channel: 'email' }), 0);

    smtp.failNext(1, 451, 'try later');
    const reply = async (body: string) => {
      const res = await request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/${sc.id}/reply`, payload: { message: { body } } });
      expectStatus(res, 200);
      return res.json<WriteBody>().event!.id;
    };
    const retried = await reply('Still there?');
    assert.equal(await relay.runOnce(), 1);
    assert.equal((await outboxRowOf(retried)).status, 'pending');
    const afterRetry = await scrape();
    assert.equal(valueOf(afterRetry, 'sideline_outbox_retries_total', { channel: 'email' }), 1);
    assert.equal(valueOf(afterRetry, 'sideline_outbox_queued', { channel: 'email' }), 1);

    smtp.failNext(1, 554, 'no such mailbox');
    await store.db.updateTable('outbox').set({ next_attempt_at: sql`now() - interval '1 second'` }).where('event_id', '=', retried).execute();
    assert.equal(await relay.runOnce(), 1);
    assert.equal((await outboxRowOf(retried)).status, 'failed');
    const afterFail = await scrape();
    assert.equal(valueOf(afterFail, 'sideline_outbox_deliveries_total', { channel: 'email', result: 'failed' }), 1);
    assert.equal(valueOf(afterFail, 'sideline_outbox_deliveries_total', { channel: 'email', result: 'sent' }), 1);
    assert.equal(valueOf(afterFail, 'sideline_outbox_queued', { channel: 'email' }), 0);
  });

  it('reports the database pool', async () => {
    const samples = await scrape();
    const open = valueOf(samples, 'sideline_db_pool_connections');
    assert.ok(open !== undefined && open >= 1, `connections ${open}`);
    assert.equal(valueOf(samples, 'sideline_db_pool_waiting'), 0);
    const inUse = valueOf(samples, 'sideline_db_pool_in_use');
    assert.ok(inUse !== undefined && inUse >= 0 && inUse <= open!, `in use ${inUse}`);
  });

  it('shows a held connection as in use and, on the single-session embedded store, a query waiting for it', async () => {
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    let started!: () => void;
    const inside = new Promise<void>((resolve) => (started = resolve));
    const transaction = store.db.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      started();
      await held;
    });
    await inside;
    const queued = STORE_KIND === 'pglite' ? sql`select 1`.execute(store.db) : Promise.resolve();
    // The statement joins the session's queue when it is sent, a few promise turns after execute().
    await new Promise((resolve) => setImmediate(resolve));
    try {
      const samples = parseSamples(await metrics.scrape());
      assert.ok((valueOf(samples, 'sideline_db_pool_in_use') ?? 0) >= 1);
      if (STORE_KIND === 'pglite') {
        assert.equal(valueOf(samples, 'sideline_db_pool_waiting'), 1);
        // The scrape's own outbox query could not get the session within its time limit: left out.
        assert.equal(valueOf(samples, 'sideline_outbox_queued', { channel: 'email' }), undefined);
      }
    } finally {
      finish();
      await transaction;
      await queued;
    }
    assert.equal(valueOf(await scrape(), 'sideline_db_pool_waiting'), 0);
  });
});

describe('GET /metrics while the store is down', () => {
  it('still answers 200, leaving out the outbox gauges; a failed relay pass is counted', async () => {
    // A store nobody listens on: every query fails to connect.
    const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const metrics = new Metrics({ db, poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }) });
    const app = await buildApp(appOptionsFor(testConfig({ metricsToken: TOKEN }), { db, hotReads: db, reads: NO_READ_CACHE, notifications: null }, metrics));
    try {
      const relay = new Relay({ db, logger: { info() {}, warn() {}, error() {} }, observer: metrics.relayObserver, pollMs: 10_000, channels: {} });
      relay.start();
      for (let i = 0; i < 100 && !(await metrics.scrape()).includes('sideline_relay_errors_total 1'); i++) await new Promise((r) => setTimeout(r, 50));
      await relay.stop();
      const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
      expectStatus(res, 200);
      const samples = parseSamples(res.body);
      assert.equal(valueOf(samples, 'sideline_outbox_queued', { channel: 'email' }), undefined);
      assert.equal(valueOf(samples, 'sideline_outbox_oldest_queued_age_seconds', { channel: 'email' }), undefined);
      assert.equal(valueOf(samples, 'sideline_relay_errors_total'), 1);
      assert.equal(valueOf(samples, 'sideline_db_pool_waiting'), 0);
      expectStatus(await app.inject({ method: 'GET', url: '/readyz' }), 503);
    } finally {
      await app.close();
      await db.destroy();
    }
  });
});

describe('GET /metrics without METRICS_TOKEN', () => {
  let t: Awaited<ReturnType<typeof startTestApp>>;
  before(async () => (t = await startTestApp()));
  after(async () => t?.close());
  it('is not there (404), with or without a token', async () => {
    expectStatus(await t.request({ method: 'GET', url: '/metrics', auth: null }), 404);
    expectStatus(await t.request({ method: 'GET', url: '/metrics', auth: `Bearer ${TOKEN}` }), 404);
  });
});

describe('METRICS_TOKEN', () => {
  it('is off when unset, kept when long enough, and refused when short or spaced', () => {
    assert.equal(loadConfig({}).metricsToken, undefined);
    assert.equal(loadConfig({ METRICS_TOKEN: TOKEN }).metricsToken, TOKEN);
    assert.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), ConfigError);
    assert.throws(() => loadConfig({ METRICS_TOKEN: 'has a space in the middle!' }), /METRICS_TOKEN/);
  });
});
