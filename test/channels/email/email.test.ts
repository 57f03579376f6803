/**
 * Email side conversations end to end, over real SMTP on 127.0.0.1:
 * - outbound: the relay sends with nodemailer to a loopback sink (test/helpers/smtp-sink.ts) and
 *   we read what arrived with mailparser;
 * - retries, failures, exactly-once delivery and leases, with Relay instances in this process;
 * - the real CLI: kill -9 mid-batch (`sideline relay` on PostgreSQL, `sideline serve` on PGlite),
 *   SIGTERM mid-batch, and `serve` with SMTP_URL, INBOUND_SMTP_PORT and INBOUND_EMAIL_SECRET;
 * - inbound: replies sent with a real SMTP client (nodemailer, test/helpers/smtp-client.ts) to our
 *   SMTP listener (Debian's swaks too, in swaks.test.ts), and raw messages POSTed to
 *   /api/v2/inbound/email.
 *
 * One store per file (plus a fresh one per process test). Every test leaves no pending outbox row
 * behind (afterEach fails any leftovers), so a relay in one test never delivers another's mail.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import type { SMTPServer } from 'smtp-server';
import { DatabaseBlobStore } from '../../../src/attachments/storage.js';
import { createAttachmentsService } from '../../../src/attachments/service.js';
import { createEmailChannel, smtpSink } from '../../../src/channels/email/deliver.js';
import { createSmtpListener } from '../../../src/channels/email/smtp-listener.js';
import { openStore } from '../../../src/db/store.js';
import type { Database, OutboxRow } from '../../../src/db/types.js';
import { backoffMs, Relay, type Channel, type RelayLogger, type RelayOptions } from '../../../src/outbox/relay.js';
import { countRows, createTempDatabase, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../../helpers/app.js';
import { eventsOf, expectStatus, multipartFile, showSc } from '../../helpers/api.js';
import type { ScEvent, WriteBody } from '../../helpers/api-types.js';
import { freePort, runSideline, startServer, type ServerProcess } from '../../helpers/server.js';
import { sendSmtp, type SmtpMessage } from '../../helpers/smtp-client.js';
import { sentMessageIds as recordedMessageIds } from '../../helpers/message-ids.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { closeListener, listen } from '../../helpers/smtp-listener.js';

const SUPPORT_ADDRESS = 'help@support.test';
const SUPPORT_DOMAIN = 'support.test';
const INBOUND_DOMAIN = 'inbound.test';
const TRUSTED_AUTHSERV_ID = 'mx.inbound.test';
const INBOUND_SECRET = 'a-long-shared-secret';
const REPLY_TO = /^reply\+([0-9a-f]{32})@inbound\.test$/;

// ---------------------------------------------------------------------------------------------
// Response shapes (only what the tests read; the shared ones in helpers/api-types.ts)
// ---------------------------------------------------------------------------------------------

interface InboundEnvelope {
  inbound_email: { side_conversation_id: string; ticket_id: number; event_id: string | null; duplicate: boolean };
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

interface LogEntry {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function captureLogger(): { logger: RelayLogger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') }, entries };
}

interface TestRelay {
  relay: Relay;
  channel: Channel;
  entries: LogEntry[];
  close(): void;
}

/** A Relay with the real email channel, sending through nodemailer to `smtpUrl`. */
function emailRelay(db: Kysely<Database>, smtpUrl: string, options: Partial<RelayOptions> = {}): TestRelay {
  const sink = smtpSink(smtpUrl);
  const { logger, entries } = captureLogger();
  const channel = createEmailChannel({ db, blobs: new DatabaseBlobStore(db), sink, inboundDomain: INBOUND_DOMAIN });
  const relay = new Relay({ db, logger, channels: { email: channel }, ...options });
  return { relay, channel, entries, close: () => sink.close() };
}

/** runOnce until a pass finds nothing due. */
async function drain(relay: Relay): Promise<number> {
  let total = 0;
  for (;;) {
    const handled = await relay.runOnce();
    if (handled === 0) return total;
    total += handled;
  }
}

function addresses(field: AddressObject | AddressObject[] | undefined): Array<{ name: string; address: string }> {
  if (!field) return [];
  return [field].flat().flatMap((group) => group.value.map((a) => ({ name: a.name, address: a.address ?? '' })));
}

function referencesOf(mail: ParsedMail): string[] {
  return mail.references === undefined ? [] : [mail.references].flat();
}

async function outboxOf(db: Kysely<Database>, eventId: string): Promise<OutboxRow> {
  return db.selectFrom('outbox').selectAll().where('event_id', '=', eventId).executeTakeFirstOrThrow();
}

/** The Message-IDs recorded for outbound events (threading.ts's keyed hash), in the order given. */
function sentMessageIds(eventIds: string[], db: Kysely<Database> = t.db): Promise<string[]> {
  return recordedMessageIds(db, eventIds);
}

async function sentMessageId(eventId: string, db: Kysely<Database> = t.db): Promise<string> {
  return (await sentMessageIds([eventId], db))[0]!;
}

async function dbNow(db: Kysely<Database>): Promise<string> {
  const result = await sql<{ now: string }>`select now()::text as now`.execute(db);
  return result.rows[0]!.now;
}

// ---------------------------------------------------------------------------------------------
// The file's app (with inbound email configured) and its API helpers
// ---------------------------------------------------------------------------------------------

let t: TestApp;
let agent: TestUser;
const AGENT_NAME = 'Agent Smith';

before(async () => {
  t = await startTestApp({ inboundDomain: INBOUND_DOMAIN, inboundEmailSecret: INBOUND_SECRET, inboundMaxBytes: 1_000_000 });
  await t.db.updateTable('accounts').set({ support_address: SUPPORT_ADDRESS, name: 'Acme Support' }).where('id', '=', t.accountId).execute();
  agent = await t.createUser('agent', AGENT_NAME);
});

after(async () => {
  await t.close();
});

/** Whatever a test left queued is failed, so the next test's relay sees only its own rows. */
async function settleOutbox(): Promise<void> {
  await t.db.updateTable('outbox').set({ status: 'failed', last_error: 'left behind by an earlier test', claimed_until: null }).where('status', '=', 'pending').execute();
}

async function newTicket(subject = 'Printer on fire'): Promise<number> {
  const res = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject, comment: { body: 'It smokes.' } } } });
  expectStatus(res, 201);
  return res.json<{ ticket: { id: number } }>().ticket.id;
}

async function createEmailSc(
  ticketId: number,
  message: { subject?: string; body: string; to: Array<{ email: string; name?: string }>; attachment_ids?: string[]; html_body?: string },
  auth = agent.auth,
): Promise<WriteBody> {
  const res = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations`, payload: { message }, auth });
  expectStatus(res, 201);
  return res.json<WriteBody>();
}

async function replyByApi(ticketId: number, scId: string, body: string, auth = agent.auth): Promise<WriteBody> {
  const res = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/reply`, payload: { message: { body } }, auth });
  expectStatus(res, 200);
  return res.json<WriteBody>();
}

async function eventById(ticketId: number, scId: string, eventId: string): Promise<ScEvent> {
  const event = (await eventsOf(t, ticketId, scId)).find((e) => e.id === eventId);
  assert.ok(event, `event ${eventId} is listed`);
  return event;
}

async function uploadFile(fileName: string, bytes: Buffer, contentType = 'application/octet-stream'): Promise<{ id: string; file_name: string }> {
  const body = multipartFile(fileName, contentType, bytes);
  const res = await t.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', payload: body.payload, headers: body.headers, auth: agent.auth });
  expectStatus(res, 201);
  return res.json<{ id: string; file_name: string }>();
}

async function download(contentUrl: string): Promise<Buffer> {
  const url = new URL(contentUrl);
  const res = await t.request({ method: 'GET', url: `${url.pathname}${url.search}` });
  expectStatus(res, 200);
  return res.rawPayload;
}

function deliveriesByRecipient(event: ScEvent): Record<string, { status: string; reason: string | null }> {
  return Object.fromEntries((event.message?.deliveries ?? []).map((d) => [d.recipient, { status: d.status, reason: d.reason }]));
}

// ---------------------------------------------------------------------------------------------
// 1. Outbound
// ---------------------------------------------------------------------------------------------

describe(`outbound email through the relay (${STORE_KIND})`, () => {
  let sink: SmtpSink;
  before(async () => {
    sink = await startSmtpSink();
  });
  after(async () => {
    await sink.close();
  });
  afterEach(settleOutbox);

  it('a new side conversation goes out as one message: sender, recipients, ids, Reply-To, text, html and the attachment; a reply threads under it', async () => {
    const ticketId = await newTicket();
    const fileBytes = Buffer.concat([Buffer.from('%sideline-test\n'), randomBytes(4096)]);
    const uploaded = await uploadFile('parts-list.bin', fileBytes);
    const subject = 'Replacement fuser for the 4th floor printer';
    const body = 'Can you ship two fuser units by Friday?\nThe order number is 4471.';
    const created = await createEmailSc(ticketId, {
      subject,
      body,
      to: [{ email: 'vendor@example.com', name: 'Vendor Person' }, { email: 'ops@partner.test' }],
      attachment_ids: [uploaded.id],
    });
    const scId = created.side_conversation.id;
    const createEvent = created.event!;

    // Right after the create: one queued delivery per recipient, nothing sent yet.
    assert.deepEqual(deliveriesByRecipient(createEvent), {
      'vendor@example.com': { status: 'queued', reason: null },
      'ops@partner.test': { status: 'queued', reason: null },
    });
    assert.equal(sink.messages.length, 0);
    const queued = await outboxOf(t.db, createEvent.id);
    assert.equal(queued.status, 'pending');
    assert.equal(queued.attempts, 0);
    assert.equal(queued.channel, 'email');

    const r = emailRelay(t.db, sink.url);
    try {
      assert.equal(await r.relay.runOnce(), 1);
      assert.equal(sink.messages.length, 1);
      const first = sink.messages[0]!;
      assert.equal(first.mailFrom, SUPPORT_ADDRESS);
      assert.deepEqual([...first.rcptTo].sort(), ['ops@partner.test', 'vendor@example.com']);

      const mail = await simpleParser(first.raw);
      assert.deepEqual(addresses(mail.from), [{ name: AGENT_NAME, address: SUPPORT_ADDRESS }]);
      assert.deepEqual(addresses(mail.to), [
        { name: 'Vendor Person', address: 'vendor@example.com' },
        { name: '', address: 'ops@partner.test' },
      ]);
      assert.equal(mail.subject, subject);
      assert.equal(mail.messageId, await sentMessageId(createEvent.id));
      assert.equal(mail.inReplyTo, undefined, 'the first message answers nothing');
      const replyTo = addresses(mail.replyTo);
      assert.equal(replyTo.length, 1);
      const token = REPLY_TO.exec(replyTo[0]!.address)?.[1];
      assert.ok(token, `Reply-To is reply+TOKEN@${INBOUND_DOMAIN}: ${replyTo[0]!.address}`);
      const row = await t.db.selectFrom('side_conversations').select('reply_token').where('id', '=', scId).executeTakeFirstOrThrow();
      assert.equal(token, row.reply_token);
      assert.equal(mail.headers.get('x-sideline-side-conversation'), scId);
      assert.equal(mail.text?.trim(), body);
      assert.equal(typeof mail.html, 'string');
      assert.match(mail.html as string, /Can you ship two fuser units by Friday\?/);
      assert.match(mail.html as string, /The order number is 4471\./);
      assert.equal(mail.attachments.length, 1);
      assert.equal(mail.attachments[0]!.filename, 'parts-list.bin');
      assert.ok(mail.attachments[0]!.content.equals(fileBytes), 'the attachment arrives byte for byte');

      // The outbox row and the event's deliveries say it went.
      const delivered = await outboxOf(t.db, createEvent.id);
      assert.equal(delivered.status, 'delivered');
      assert.equal(delivered.attempts, 1);
      assert.equal(delivered.last_error, null);
      assert.equal(delivered.claimed_until, null);
      assert.ok(delivered.delivered_at instanceof Date);
      const shown = await eventById(ticketId, scId, createEvent.id);
      assert.deepEqual(deliveriesByRecipient(shown), {
        'vendor@example.com': { status: 'sent', reason: null },
        'ops@partner.test': { status: 'sent', reason: null },
      });
      assert.equal(shown.message?.attachments[0]?.file_name, 'parts-list.bin');

      // A reply through the API: "Re: …", threaded under the first message.
      const replied = await replyByApi(ticketId, scId, 'Any news on the fuser units?');
      assert.deepEqual(deliveriesByRecipient(replied.event!), {
        'vendor@example.com': { status: 'queued', reason: null },
        'ops@partner.test': { status: 'queued', reason: null },
      });
      assert.equal(await r.relay.runOnce(), 1);
      assert.equal(sink.messages.length, 2);
      const second = await simpleParser(sink.messages[1]!.raw);
      assert.equal(second.subject, `Re: ${subject}`);
      assert.equal(second.messageId, await sentMessageId(replied.event!.id));
      assert.equal(second.inReplyTo, mail.messageId);
      assert.ok(referencesOf(second).includes(mail.messageId!), `References ${JSON.stringify(second.references)} names the first message`);
      assert.deepEqual(addresses(second.replyTo), replyTo);
      assert.deepEqual(addresses(second.from), [{ name: AGENT_NAME, address: SUPPORT_ADDRESS }]);
      assert.deepEqual(new Set(addresses(second.to).map((a) => a.address)), new Set(['vendor@example.com', 'ops@partner.test']));
      assert.equal(second.text?.trim(), 'Any news on the fuser units?');
      assert.equal(second.attachments.length, 0);
      assert.deepEqual(deliveriesByRecipient(await eventById(ticketId, scId, replied.event!.id)), {
        'vendor@example.com': { status: 'sent', reason: null },
        'ops@partner.test': { status: 'sent', reason: null },
      });
    } finally {
      r.close();
    }
  });

  it('a recipient refused at RCPT is failed with the server reason while the other is sent', async () => {
    const ticketId = await newTicket('Partial delivery');
    sink.rejectRecipient('nobody@partner.test', 550, '5.1.1 No such user here');
    const r = emailRelay(t.db, sink.url);
    try {
      const created = await createEmailSc(ticketId, { body: 'Who is on call?', to: [{ email: 'vendor@example.com' }, { email: 'nobody@partner.test' }] });
      const before = sink.messages.length;
      assert.equal(await r.relay.runOnce(), 1);
      assert.equal(sink.messages.length, before + 1);
      assert.deepEqual(sink.messages[before]!.rcptTo, ['vendor@example.com']);
      const row = await outboxOf(t.db, created.event!.id);
      assert.equal(row.status, 'delivered');
      const shown = deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, created.event!.id));
      assert.deepEqual(shown['vendor@example.com'], { status: 'sent', reason: null });
      assert.equal(shown['nobody@partner.test']?.status, 'failed');
      assert.match(shown['nobody@partner.test']?.reason ?? '', /550.*No such user here/);
    } finally {
      sink.clearRejections();
      r.close();
    }
  });

  it('a recipient refused at RCPT with a temporary 4xx is retried, not failed for good', async () => {
    // README: temporary failures (SMTP 4xx) are retried. Here the server takes one recipient and
    // answers 450 for the other.
    const ticketId = await newTicket('Busy mailbox');
    sink.rejectRecipient('busy@partner.test', 450, '4.2.1 Mailbox busy, try again later');
    const r = emailRelay(t.db, sink.url, { baseBackoffMs: 100, random: () => 0 });
    try {
      const created = await createEmailSc(ticketId, { body: 'Are you there?', to: [{ email: 'vendor@example.com' }, { email: 'busy@partner.test' }] });
      const eventId = created.event!.id;
      const before = sink.messages.length;
      assert.equal(await r.relay.runOnce(), 1);
      assert.deepEqual(sink.messages.slice(before).map((m) => m.rcptTo), [['vendor@example.com']]);
      const first = deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, eventId));
      assert.deepEqual(first['vendor@example.com'], { status: 'sent', reason: null });
      assert.equal(first['busy@partner.test']?.status, 'queued', `a 450 is temporary: ${JSON.stringify(first['busy@partner.test'])}`);

      // The mailbox frees up: the next passes deliver to the busy recipient only, under the same Message-ID.
      sink.clearRejections();
      await waitUntil('the busy recipient to be retried', async () => {
        await r.relay.runOnce();
        return deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, eventId))['busy@partner.test']?.status !== 'queued';
      });
      const retried = sink.messages.slice(before + 1);
      assert.deepEqual(retried.map((m) => m.rcptTo), [['busy@partner.test']]);
      assert.equal((await simpleParser(retried[0]!.raw)).messageId, await sentMessageId(eventId));
      assert.deepEqual(deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, eventId))['busy@partner.test'], { status: 'sent', reason: null });
    } finally {
      sink.clearRejections();
      r.close();
    }
  });

  it('non-ASCII names, subject and body survive the trip; a mixed-case address is matched to its delivery', async () => {
    const ticketId = await newTicket('Unicode');
    const zoe = await t.createUser('agent', 'Zoë Ångström');
    const subject = 'Überweisung für Bestellung #4471 — 5 € fehlen';
    const body = 'Grüße aus Köln! 日本語のテキスト 🚀';
    const created = await createEmailSc(ticketId, { subject, body, to: [{ email: 'Joerg.Vendor@Example.COM', name: 'Jörg Müller' }] }, zoe.auth);
    const r = emailRelay(t.db, sink.url);
    const before = sink.messages.length;
    try {
      assert.equal(await r.relay.runOnce(), 1);
    } finally {
      r.close();
    }
    const mail = await simpleParser(sink.messages[before]!.raw);
    assert.equal(mail.subject, subject);
    assert.equal(mail.text?.trim(), body);
    assert.deepEqual(addresses(mail.from), [{ name: 'Zoë Ångström', address: SUPPORT_ADDRESS }]);
    assert.equal(addresses(mail.to)[0]?.name, 'Jörg Müller');
    assert.equal(addresses(mail.to)[0]?.address.toLowerCase(), 'joerg.vendor@example.com');
    const shown = await eventById(ticketId, created.side_conversation.id, created.event!.id);
    assert.deepEqual(shown.message?.deliveries.map((d) => [d.recipient, d.status]), [['joerg.vendor@example.com', 'sent']]);
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Retries and failures
// ---------------------------------------------------------------------------------------------

describe(`retries and failures (${STORE_KIND})`, () => {
  let sink: SmtpSink;
  before(async () => {
    sink = await startSmtpSink();
  });
  after(async () => {
    await sink.close();
  });
  afterEach(async () => {
    sink.clearRejections();
    await settleOutbox();
  });

  it('451 keeps the row pending with its backoff, deliveries queued; after the backoff the next pass delivers it', async () => {
    const ticketId = await newTicket('Greylisted');
    const created = await createEmailSc(ticketId, { body: 'First try will be greylisted', to: [{ email: 'vendor@example.com' }] });
    const eventId = created.event!.id;
    // base 4 s, random 0: the first retry waits exactly 2 s (base·2^0 × 0.5).
    assert.equal(backoffMs(1, 4_000, 60_000, () => 0), 2_000);
    const r = emailRelay(t.db, sink.url, { baseBackoffMs: 4_000, random: () => 0 });
    try {
      sink.failNext(1, 451, '4.7.1 Greylisted, try again later');
      const attemptsBefore = sink.attempts.length;
      const start = await dbNow(t.db);
      assert.equal(await r.relay.runOnce(), 1);
      const end = await dbNow(t.db);
      assert.equal(sink.attempts.length, attemptsBefore + 1);
      assert.equal(sink.attempts.at(-1)!.code, 451);

      const row = await outboxOf(t.db, eventId);
      assert.equal(row.status, 'pending');
      assert.equal(row.attempts, 1);
      assert.match(row.last_error ?? '', /451 4\.7\.1 Greylisted, try again later/);
      assert.equal(row.claimed_until, null);
      const window = await sql<{ inside: boolean; future: boolean }>`
        select next_attempt_at >= ${start}::timestamptz + interval '2000 milliseconds'
           and next_attempt_at <= ${end}::timestamptz + interval '2000 milliseconds' as inside,
               next_attempt_at > now() as future
        from outbox where id = ${row.id}`.execute(t.db);
      assert.deepEqual(window.rows[0], { inside: true, future: true }, 'next_attempt_at = the time of the attempt + 2 s');
      const retryLog = r.entries.find((e) => e.msg === 'delivery will be retried');
      assert.equal(retryLog?.obj['retry_in_ms'], 2_000);
      assert.deepEqual(deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, eventId)), {
        'vendor@example.com': { status: 'queued', reason: null },
      });

      // Not due yet: a pass now takes nothing.
      assert.equal(await r.relay.runOnce(), 0);
      assert.equal(sink.attempts.length, attemptsBefore + 1);

      // After the backoff, a new pass delivers it.
      await waitUntil('the retry to be delivered', async () => (await r.relay.runOnce()) > 0, 30_000, 200);
      const done = await outboxOf(t.db, eventId);
      assert.equal(done.status, 'delivered');
      assert.equal(done.attempts, 2);
      assert.equal(done.last_error, null);
      const mail = await simpleParser(sink.messages.at(-1)!.raw);
      assert.equal(mail.messageId, await sentMessageId(eventId));
      assert.equal(mail.text?.trim(), 'First try will be greylisted');
      assert.deepEqual(deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, eventId)), {
        'vendor@example.com': { status: 'sent', reason: null },
      });
    } finally {
      r.close();
    }
  });

  it('connection refused is a retry, not a failure; the message goes once the server is up', async () => {
    const ticketId = await newTicket('Server down');
    const created = await createEmailSc(ticketId, { body: 'Sent while the server is down', to: [{ email: 'vendor@example.com' }] });
    const eventId = created.event!.id;
    const closedPort = await freePort();
    const down = emailRelay(t.db, `smtp://127.0.0.1:${closedPort}`, { baseBackoffMs: 200, random: () => 0 });
    try {
      assert.equal(await down.relay.runOnce(), 1);
    } finally {
      down.close();
    }
    const row = await outboxOf(t.db, eventId);
    assert.equal(row.status, 'pending');
    assert.equal(row.attempts, 1);
    assert.match(row.last_error ?? '', /ECONNREFUSED/);
    assert.deepEqual(deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, eventId)), {
      'vendor@example.com': { status: 'queued', reason: null },
    });

    const up = emailRelay(t.db, sink.url, { baseBackoffMs: 200, random: () => 0 });
    try {
      await waitUntil('the row to be delivered once the server is up', async () => (await up.relay.runOnce()) > 0, 30_000, 100);
    } finally {
      up.close();
    }
    const done = await outboxOf(t.db, eventId);
    assert.equal(done.status, 'delivered');
    assert.equal(done.attempts, 2);
    const mail = await simpleParser(sink.messages.at(-1)!.raw);
    assert.equal(mail.messageId, await sentMessageId(eventId));
  });

  it('550 fails the row at once, the deliveries carry the server reason on the event, and nothing is tried again', async () => {
    const ticketId = await newTicket('Hard bounce');
    const created = await createEmailSc(ticketId, { body: 'This will bounce', to: [{ email: 'gone@example.com', name: 'Gone' }, { email: 'vendor@example.com' }] });
    const eventId = created.event!.id;
    const r = emailRelay(t.db, sink.url, { baseBackoffMs: 10, random: () => 0 });
    try {
      sink.failNext(1, 550, '5.7.1 Message rejected by policy');
      const attemptsBefore = sink.attempts.length;
      const messagesBefore = sink.messages.length;
      assert.equal(await r.relay.runOnce(), 1);
      const row = await outboxOf(t.db, eventId);
      assert.equal(row.status, 'failed');
      assert.equal(row.attempts, 1);
      assert.match(row.last_error ?? '', /550 5\.7\.1 Message rejected by policy/);
      const shown = deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, eventId));
      assert.deepEqual(Object.keys(shown).sort(), ['gone@example.com', 'vendor@example.com']);
      for (const d of Object.values(shown)) {
        assert.equal(d.status, 'failed');
        assert.match(d.reason ?? '', /550 5\.7\.1 Message rejected by policy/);
      }
      // No further attempts, however long we wait or however often we pass.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(await r.relay.runOnce(), 0);
      assert.equal(await r.relay.runOnce(), 0);
      assert.equal(sink.attempts.length, attemptsBefore + 1);
      assert.equal(sink.messages.length, messagesBefore);
      assert.equal((await outboxOf(t.db, eventId)).attempts, 1);
    } finally {
      r.close();
    }
  });

  it('a row that keeps getting 4xx is failed after maxAttempts, with the last reason', async () => {
    const ticketId = await newTicket('Always busy');
    const created = await createEmailSc(ticketId, { body: 'The server is always busy', to: [{ email: 'vendor@example.com' }] });
    const eventId = created.event!.id;
    const r = emailRelay(t.db, sink.url, { maxAttempts: 3, baseBackoffMs: 20, random: () => 0 });
    try {
      sink.failNext(10, 421, '4.3.2 Too busy, come back later');
      const attemptsBefore = sink.attempts.length;
      await waitUntil(
        'the row to give up',
        async () => {
          await r.relay.runOnce();
          return (await outboxOf(t.db, eventId)).status !== 'pending';
        },
        30_000,
        20,
      );
      const row = await outboxOf(t.db, eventId);
      assert.equal(row.status, 'failed');
      assert.equal(row.attempts, 3);
      assert.match(row.last_error ?? '', /^gave up after 3 attempts: .*421 4\.3\.2 Too busy, come back later/);
      assert.equal(sink.attempts.length - attemptsBefore, 3);
      const shown = deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, eventId));
      assert.equal(shown['vendor@example.com']?.status, 'failed');
      assert.match(shown['vendor@example.com']?.reason ?? '', /gave up after 3 attempts/);
      assert.equal(await r.relay.runOnce(), 0);
    } finally {
      r.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 3. Exactly once: concurrent relays and leases
// ---------------------------------------------------------------------------------------------

describe(`exactly once (${STORE_KIND})`, () => {
  let sink: SmtpSink;
  before(async () => {
    sink = await startSmtpSink();
  });
  after(async () => {
    await sink.close();
  });
  afterEach(settleOutbox);

  it('two relays on one store deliver 20 queued messages, each exactly once', async () => {
    const ticketId = await newTicket('Twenty at once');
    const eventIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const created = await createEmailSc(ticketId, { subject: `Batch ${i}`, body: `Message number ${i}`, to: [{ email: `vendor${i}@example.com` }] });
      eventIds.push(created.event!.id);
    }
    const before = sink.messages.length;
    const a = emailRelay(t.db, sink.url, { batchSize: 3, relayId: 'relay-a' });
    const b = emailRelay(t.db, sink.url, { batchSize: 3, relayId: 'relay-b' });
    try {
      const [byA, byB] = await Promise.all([drain(a.relay), drain(b.relay)]);
      assert.equal(byA + byB, 20);
    } finally {
      a.close();
      b.close();
    }
    const arrived = sink.messages.slice(before);
    assert.equal(arrived.length, 20, 'no message was sent twice');
    const ids: string[] = [];
    for (const m of arrived) {
      const mail = await simpleParser(m.raw);
      ids.push(mail.messageId ?? '');
      // Each message went to its own recipient, with its own body.
      const n = Number(/^Batch (\d+)$/.exec(mail.subject ?? '')?.[1]);
      assert.deepEqual(m.rcptTo, [`vendor${n}@example.com`]);
      assert.equal(mail.text?.trim(), `Message number ${n}`);
    }
    assert.equal(new Set(ids).size, 20);
    assert.deepEqual([...ids].sort(), (await sentMessageIds(eventIds)).sort());
    const rows = await t.db.selectFrom('outbox').selectAll().where('event_id', 'in', eventIds).execute();
    assert.equal(rows.length, 20);
    for (const row of rows) {
      assert.equal(row.status, 'delivered');
      assert.equal(row.attempts, 1, 'claimed once');
      assert.ok(row.claimed_by === 'relay-a' || row.claimed_by === 'relay-b', String(row.claimed_by));
    }
    const deliveries = await t.db.selectFrom('deliveries').select(['status']).where('event_id', 'in', eventIds).execute();
    assert.deepEqual(deliveries.map((d) => d.status), Array<string>(20).fill('sent'));
  });

  it('a lease longer than any one delivery keeps a slow batch from being delivered twice by a second relay', async () => {
    // RelayOptions.leaseMs: "longer than any delivery can take". Here each delivery takes 300 ms and
    // the lease is 1 s, but one claim leases a whole batch of 5 (1.5 s of deliveries).
    const ticketId = await newTicket('Slow batch');
    const eventIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await createEmailSc(ticketId, { subject: `Slow ${i}`, body: `Slow message ${i}`, to: [{ email: `slow${i}@example.com` }] });
      eventIds.push(created.event!.id);
    }
    const slow = await startSmtpSink({ delayMs: 300 });
    const a = emailRelay(t.db, slow.url, { batchSize: 5, leaseMs: 1_000, relayId: 'relay-slow-a' });
    const b = emailRelay(t.db, slow.url, { batchSize: 5, leaseMs: 1_000, relayId: 'relay-slow-b' });
    try {
      const passA = a.relay.runOnce();
      await waitUntil('relay A to claim the batch', async () => {
        const rows = await t.db.selectFrom('outbox').select('claimed_by').where('event_id', 'in', eventIds).execute();
        return rows.every((r) => r.claimed_by === 'relay-slow-a');
      });
      let passB = 0;
      const loopB = (async () => {
        for (;;) {
          passB += await b.relay.runOnce();
          const pending = await t.db.selectFrom('outbox').select('id').where('event_id', 'in', eventIds).where('status', '=', 'pending').execute();
          if (pending.length === 0) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const [handledA] = await Promise.all([passA, loopB]);
      assert.equal(handledA, 5);
      const ids = await Promise.all(slow.messages.map(async (m) => (await simpleParser(m.raw)).messageId));
      assert.deepEqual([...new Set(ids)].sort(), (await sentMessageIds(eventIds)).sort());
      assert.equal(ids.length, 5, `each message once; relay B took over ${passB} rows still in relay A's batch: ${JSON.stringify(ids)}`);
    } finally {
      a.close();
      b.close();
      await slow.close();
    }
  });

  it('a row claimed by a relay that died is left alone until its lease ends, then delivered with the same Message-ID', async () => {
    const ticketId = await newTicket('Crashed relay');
    const created = await createEmailSc(ticketId, { body: 'Sent by a relay that then died', to: [{ email: 'vendor@example.com' }] });
    const eventId = created.event!.id;
    const messageId = await sentMessageId(eventId);
    const crashed = emailRelay(t.db, sink.url, { leaseMs: 1_500, relayId: 'relay-crashed' });
    const survivor = emailRelay(t.db, sink.url, { relayId: 'relay-survivor' });
    const before = sink.messages.length;
    try {
      const claimed = await crashed.relay.claim();
      assert.deepEqual(claimed.map((r) => r.event_id), [eventId]);
      // It hands the message to the SMTP server, then dies before recording the outcome.
      const outcome = await crashed.channel.deliver(claimed[0]!);
      assert.equal(outcome.kind, 'delivered');
      assert.equal(sink.messages.length, before + 1);

      // Another relay does not take the row while the lease holds.
      assert.equal(await survivor.relay.runOnce(), 0);
      const held = await outboxOf(t.db, eventId);
      assert.equal(held.status, 'pending');
      assert.equal(held.claimed_by, 'relay-crashed');
      assert.equal(held.attempts, 1);
      assert.ok(held.claimed_until instanceof Date);
      assert.deepEqual(deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, eventId)), {
        'vendor@example.com': { status: 'queued', reason: null },
      });

      // Once claimed_until has passed, it is taken over and delivered again, under the same id.
      await waitUntil('the lease to end', async () => {
        const r = await sql<{ over: boolean }>`select claimed_until < now() as over from outbox where id = ${held.id}`.execute(t.db);
        return r.rows[0]!.over;
      });
      assert.equal(await survivor.relay.runOnce(), 1);
      const done = await outboxOf(t.db, eventId);
      assert.equal(done.status, 'delivered');
      assert.equal(done.claimed_by, 'relay-survivor');
      assert.equal(done.attempts, 2);
      const arrived = sink.messages.slice(before);
      assert.equal(arrived.length, 2);
      const ids = await Promise.all(arrived.map(async (m) => (await simpleParser(m.raw)).messageId));
      assert.deepEqual(ids, [messageId, messageId], 'the repeat carries the same Message-ID, so receivers can drop it');
      assert.deepEqual(deliveriesByRecipient(await eventById(ticketId, created.side_conversation.id, eventId)), {
        'vendor@example.com': { status: 'sent', reason: null },
      });
    } finally {
      crashed.close();
      survivor.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 4. The real CLI: kill -9 and SIGTERM mid-batch, serve with SMTP out and in
// ---------------------------------------------------------------------------------------------

const PROCESS_ADMIN = { SIDELINE_ADMIN_EMAIL: 'owner@example.com', SIDELINE_ADMIN_PASSWORD: 'a-long-admin-password' };
const processAuth = `Basic ${Buffer.from(`${PROCESS_ADMIN.SIDELINE_ADMIN_EMAIL}:${PROCESS_ADMIN.SIDELINE_ADMIN_PASSWORD}`).toString('base64')}`;
const BATCH = 30;

async function apiPost<T>(server: ServerProcess, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${server.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: processAuth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.status === 201 || res.status === 200, `${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A new database on the PostgreSQL server of DATABASE_URL, for a process of its own. */
function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  return createTempDatabase(process.env['DATABASE_URL']!, 'sideline_email');
}

/** Kills whatever is still running (SIGKILL) and waits for every process to end. */
async function reap(processes: ServerProcess[]): Promise<void> {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
}

/** Queues BATCH email side conversations on one ticket; returns the Message-IDs they will carry. */
async function queueBatch(server: ServerProcess): Promise<{ ticketId: number; eventIds: string[] }> {
  const ticket = await apiPost<{ ticket: { id: number } }>(server, '/api/v2/tickets.json', { ticket: { subject: 'Kill -9', comment: { body: 'batch' } } });
  const eventIds: string[] = [];
  for (let i = 0; i < BATCH; i++) {
    const created = await apiPost<WriteBody>(server, `/api/v2/tickets/${ticket.ticket.id}/side_conversations.json`, {
      message: { subject: `Batch message ${i}`, body: `Body ${i}`, to: [{ email: `vendor${i}@example.com` }] },
    });
    eventIds.push(created.event!.id);
  }
  return { ticketId: ticket.ticket.id, eventIds };
}

async function messageIdsOf(sink: SmtpSink): Promise<string[]> {
  return Promise.all(sink.messages.map(async (m) => (await simpleParser(m.raw)).messageId ?? '(none)'));
}

/** The killed process's claims: rows still pending that it had taken, and how long their leases run on. */
async function claimsOfTheDead(db: Kysely<Database>, relayIdPrefix: string): Promise<{ rows: number; longestMs: number }> {
  const held = await sql<{ n: number; longest_ms: number | null }>`
    select count(*)::int as n, (extract(epoch from max(claimed_until) - now()) * 1000)::float8 as longest_ms
    from outbox where status = 'pending' and claimed_by like ${`${relayIdPrefix}%`} and claimed_until is not null`.execute(db);
  return { rows: held.rows[0]!.n, longestMs: held.rows[0]!.longest_ms ?? 0 };
}

async function checkBatchDelivered(sink: SmtpSink, eventIds: string[], db: Kysely<Database>): Promise<void> {
  const expected = new Set(await sentMessageIds(eventIds, db));
  const ids = await messageIdsOf(sink);
  for (const id of ids) assert.ok(expected.has(id), `${id} is the Message-ID of one of the queued events`);
  assert.equal(new Set(ids).size, BATCH, 'every event arrived, under its own Message-ID');
  assert.ok(ids.length >= BATCH);
  const statuses = await db.selectFrom('outbox').select(['status']).execute();
  assert.equal(statuses.length, BATCH);
  assert.deepEqual([...new Set(statuses.map((s) => s.status))], ['delivered']);
  const deliveries = await db.selectFrom('deliveries').select(['status']).execute();
  assert.equal(deliveries.length, BATCH);
  assert.deepEqual([...new Set(deliveries.map((d) => d.status))], ['sent']);
}

describe('stopping a relay mid-batch: kill -9 and SIGTERM', () => {
  it('PostgreSQL: `sideline relay` killed after a few messages, a second relay finishes; every Message-ID arrives, repeats carry the same id', { skip: !process.env['DATABASE_URL'] && 'needs DATABASE_URL' }, async (ctx) => {
    const database = await freshDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'sideline-kill-'));
    const env: Record<string, string> = {
      DATABASE_URL: database.url,
      DATA_DIR: dir,
      SUPPORT_ADDRESS,
      INBOUND_DOMAIN,
      ...PROCESS_ADMIN,
    };
    const sink = await startSmtpSink({ delayMs: 100 });
    const started: ServerProcess[] = [];
    let store: Awaited<ReturnType<typeof openStore>> | undefined;
    try {
      const api = await startServer({ ...env, RELAY: 'off' });
      started.push(api);
      const { eventIds } = await queueBatch(api);
      store = await openStore({ databaseUrl: database.url, poolSize: 2 });
      assert.equal(await countRows(store.db, 'outbox'), BATCH);
      assert.equal(sink.messages.length, 0, 'RELAY=off: the API server sends nothing');

      // A short lease (RELAY_LEASE_MS), so the dead relay's claims end in seconds rather than 5 minutes.
      const relayEnv = { ...env, SMTP_URL: sink.url, RELAY_POLL_MS: '100', RELAY_LEASE_MS: '3000' };
      const first = runSideline(['relay'], relayEnv);
      started.push(first);
      await sink.waitForMessages(3, 60_000);
      first.proc.kill('SIGKILL');
      await first.exited;
      const dead = await claimsOfTheDead(store.db, `relay-${first.pid}-`);
      assert.ok(dead.rows > 0, 'killed mid-batch, holding claims');
      assert.ok(dead.longestMs <= 3_000, `the lease is bounded by RELAY_LEASE_MS (${dead.longestMs} ms left)`);
      ctx.diagnostic(`the killed relay held ${dead.rows} claims; ${sink.messages.length} messages had arrived`);

      const second = runSideline(['relay'], relayEnv);
      started.push(second);
      const db = store.db;
      await waitUntil('the outbox to have no pending rows', async () => (await db.selectFrom('outbox').select('id').where('status', '=', 'pending').execute()).length === 0, 120_000, 200);
      second.proc.kill('SIGTERM');
      assert.equal(await second.exited, 0, second.output());
      assert.match(second.output(), /relay stopped cleanly/);

      await checkBatchDelivered(sink, eventIds, store.db);
    } finally {
      await reap(started);
      await store?.close();
      await sink.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PGlite: `sideline serve` killed mid-batch and restarted on the same DATA_DIR finishes the batch', { skip: STORE_KIND !== 'pglite' && 'runs on the PGlite pass' }, async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'sideline-kill-'));
    const env: Record<string, string> = { DATABASE_URL: '', DATA_DIR: dir, SUPPORT_ADDRESS, INBOUND_DOMAIN, ...PROCESS_ADMIN };
    const sink = await startSmtpSink({ delayMs: 100 });
    const started: ServerProcess[] = [];
    try {
      // Queue the batch with the relay off, then stop cleanly.
      const queuer = await startServer({ ...env, RELAY: 'off' });
      started.push(queuer);
      const { ticketId, eventIds } = await queueBatch(queuer);
      queuer.proc.kill('SIGTERM');
      assert.equal(await queuer.exited, 0, queuer.output());

      // The default lease (5 minutes): only the restart's own release of dead claims can finish in time.
      const relayEnv = { ...env, RELAY: 'on', SMTP_URL: sink.url, RELAY_POLL_MS: '100' };
      const doomed = await startServer(relayEnv);
      started.push(doomed);
      await sink.waitForMessages(3, 60_000);
      doomed.proc.kill('SIGKILL');
      await doomed.exited;
      assert.ok(sink.messages.length < BATCH, 'killed mid-batch');

      // The data directory is free again (the lock's process is gone): look at what the dead server held.
      const store = await openStore({ dataDir: dir });
      let dead: { rows: number; longestMs: number };
      try {
        dead = await claimsOfTheDead(store.db, `relay-${doomed.pid}-`);
      } finally {
        await store.close();
      }
      assert.ok(dead.rows > 0, 'the killed server held claims');
      assert.ok(dead.longestMs > 60_000, `left alone, the claims would block for minutes (${dead.longestMs} ms)`);
      ctx.diagnostic(`the killed server held ${dead.rows} claims; ${sink.messages.length} messages had arrived`);

      const restarted = await startServer(relayEnv);
      started.push(restarted);
      await waitUntil('every message to arrive', async () => new Set(await messageIdsOf(sink)).size === BATCH, 120_000, 200);
      await waitUntil(
        'every delivery to be recorded as sent',
        async () => {
          const res = await fetch(`${restarted.baseUrl}/api/v2/tickets/${ticketId}/side_conversations.json?include=events`, { headers: { authorization: processAuth } });
          const body = (await res.json()) as { events?: ScEvent[] };
          const statuses = (body.events ?? []).flatMap((e) => e.message?.deliveries.map((d) => d.status) ?? []);
          return statuses.length === BATCH && statuses.every((s) => s === 'sent');
        },
        60_000,
        200,
      );
      const released = /"released":(\d+)[^\n]*released outbox claims of a previous process/.exec(restarted.output());
      assert.ok(released, 'the restarted server says it took back the dead claims');
      assert.equal(Number(released[1]), dead.rows);
      restarted.proc.kill('SIGTERM');
      assert.equal(await restarted.exited, 0, restarted.output());

      const after = await openStore({ dataDir: dir });
      try {
        await checkBatchDelivered(sink, eventIds, after.db);
      } finally {
        await after.close();
      }
    } finally {
      await reap(started);
      await sink.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`SIGTERM mid-batch: \`sideline relay\` finishes the delivery in hand, stops, and leaves no claims behind (${STORE_KIND})`, async () => {
    // Relay.stop(): "Finishes the delivery in hand, then stops."
    const dir = mkdtempSync(join(tmpdir(), 'sideline-term-'));
    const database = process.env['DATABASE_URL'] ? await freshDatabase() : null;
    const env: Record<string, string> = { DATABASE_URL: database?.url ?? '', DATA_DIR: dir, SUPPORT_ADDRESS, INBOUND_DOMAIN, ...PROCESS_ADMIN };
    const sink = await startSmtpSink({ delayMs: 200 });
    const started: ServerProcess[] = [];
    try {
      const queuer = await startServer({ ...env, RELAY: 'off' });
      started.push(queuer);
      await queueBatch(queuer);
      // The embedded store is one process's: stop the API before the relay opens it.
      if (!database) {
        queuer.proc.kill('SIGTERM');
        assert.equal(await queuer.exited, 0, queuer.output());
      }
      // One delivery at a time, so "the delivery in hand" is exactly one message.
      const relay = runSideline(['relay'], { ...env, SMTP_URL: sink.url, RELAY_POLL_MS: '100', RELAY_CONCURRENCY: '1' });
      started.push(relay);
      await sink.waitForMessages(2, 60_000);
      const atSignal = sink.messages.length;
      relay.proc.kill('SIGTERM');
      assert.equal(await relay.exited, 0, relay.output());
      assert.match(relay.output(), /relay stopped cleanly/);
      assert.ok(sink.messages.length <= atSignal + 1, `after SIGTERM only the delivery in hand finishes: ${atSignal} before, ${sink.messages.length} after`);

      const store = database ? await openStore({ databaseUrl: database.url, poolSize: 1 }) : await openStore({ dataDir: dir });
      try {
        const leftClaimed = await store.db.selectFrom('outbox').select('id').where('status', '=', 'pending').where('claimed_until', 'is not', null).execute();
        assert.equal(leftClaimed.length, 0, 'a clean stop gives back the claims it did not deliver');
      } finally {
        await store.close();
      }
    } finally {
      await reap(started);
      await sink.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(`the real CLI: serve with SMTP out and in (${STORE_KIND})`, () => {
  it('serve sends through SMTP_URL, takes the SMTP reply on INBOUND_SMTP_PORT and the HTTP route, and stops cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sideline-cli-'));
    const database = process.env['DATABASE_URL'] ? await freshDatabase() : null;
    const sink = await startSmtpSink();
    const smtpPort = await freePort();
    const started: ServerProcess[] = [];
    try {
      const server = await startServer({
        DATABASE_URL: database?.url ?? '',
        DATA_DIR: dir,
        SUPPORT_ADDRESS,
        INBOUND_DOMAIN,
        INBOUND_SMTP_PORT: String(smtpPort),
        INBOUND_EMAIL_SECRET: INBOUND_SECRET,
        SMTP_URL: sink.url,
        RELAY_POLL_MS: '100',
        ...PROCESS_ADMIN,
      });
      started.push(server);
      assert.match(server.output(), /inbound SMTP listening/);
      const get = async <T>(path: string): Promise<T> => {
        const res = await fetch(`${server.baseUrl}${path}`, { headers: { authorization: processAuth } });
        assert.equal(res.status, 200, path);
        return (await res.json()) as T;
      };

      const ticket = await apiPost<{ ticket: { id: number } }>(server, '/api/v2/tickets.json', { ticket: { subject: 'Through the CLI', comment: { body: 'x' } } });
      const ticketId = ticket.ticket.id;
      const created = await apiPost<WriteBody>(server, `/api/v2/tickets/${ticketId}/side_conversations.json`, {
        message: { subject: 'Toner order', body: 'Please send 3 cartridges.', to: [{ email: 'vendor@example.com', name: 'Vendor Person' }] },
      });
      const scId = created.side_conversation.id;
      await sink.waitForMessages(1, 30_000);
      const out = await simpleParser(sink.messages[0]!.raw);
      assert.match(out.messageId ?? '', new RegExp(`^<[0-9a-f]{32}@${SUPPORT_DOMAIN.replace(/\./g, '\\.')}>$`), 'a keyed hash, not the event id');
      assert.deepEqual(addresses(out.from), [{ name: 'Administrator', address: SUPPORT_ADDRESS }]);
      assert.equal(out.subject, 'Toner order');
      const replyTo = addresses(out.replyTo)[0]!.address;
      assert.match(replyTo, REPLY_TO);

      const attachment = randomBytes(777);
      const sent = await sendSmtp(smtpPort, {
        envelope: { from: 'vendor@example.com', to: replyTo },
        from: '"Vendor Person" <vendor@example.com>',
        to: replyTo,
        subject: 'Re: Toner order',
        inReplyTo: out.messageId,
        text: 'Sent today.\n\nOn Mon, Administrator <help@support.test> wrote:\n> Please send 3 cartridges.\n',
        attachments: [{ filename: 'invoice.bin', content: attachment, contentType: 'application/octet-stream' }],
      });
      assert.ok(sent.accepted, sent.transcript);
      assert.match(sent.reply, /^250 Recorded/);

      await waitUntil('the create delivery to be recorded', async () => {
        const events = (await get<{ events: ScEvent[] }>(`/api/v2/tickets/${ticketId}/side_conversations/${scId}/events.json`)).events;
        return events[0]?.message?.deliveries[0]?.status === 'sent';
      });
      const events = (await get<{ events: ScEvent[] }>(`/api/v2/tickets/${ticketId}/side_conversations/${scId}/events.json`)).events;
      assert.deepEqual(events.map((e) => [e.type, e.via]), [['create', 'api'], ['reply', 'email']]);
      const reply = events[1]!;
      assert.deepEqual(reply.actor, { user_id: null, name: 'Vendor Person', email: 'vendor@example.com' });
      assert.equal(reply.message?.body, 'Sent today.');
      assert.equal(reply.message?.attachments[0]?.file_name, 'invoice.bin');
      const file = await fetch(reply.message!.attachments[0]!.content_url, { headers: { authorization: processAuth } });
      assert.equal(file.status, 200);
      assert.ok(Buffer.from(await file.arrayBuffer()).equals(attachment), 'the attachment downloads byte for byte from the real process');

      // The HTTP door of the same process.
      const raw = `From: vendor@example.com\r\nTo: ${replyTo}\r\nSubject: Re: Toner order\r\nMessage-ID: <cli-http@vendor.example>\r\n\r\nAnd the invoice is paid.\r\n`;
      const posted = await fetch(`${server.baseUrl}/api/v2/inbound/email`, { method: 'POST', headers: { 'content-type': 'message/rfc822', authorization: `Bearer ${INBOUND_SECRET}` }, body: raw });
      assert.equal(posted.status, 201);
      const inbound = ((await posted.json()) as InboundEnvelope).inbound_email;
      assert.equal(inbound.side_conversation_id, scId);
      const afterHttp = (await get<{ events: ScEvent[] }>(`/api/v2/tickets/${ticketId}/side_conversations/${scId}/events.json`)).events;
      assert.equal(afterHttp.at(-1)?.id, inbound.event_id);
      assert.equal(afterHttp.at(-1)?.message?.body, 'And the invoice is paid.');
      assert.equal(sink.messages.length, 1, 'inbound mail is not sent back out');

      server.proc.kill('SIGTERM');
      assert.equal(await server.exited, 0, server.output());
      assert.match(server.output(), /stopped cleanly/);
    } finally {
      await reap(started);
      await sink.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('SUPPORT_ADDRESS changed between starts is the From (and Message-ID domain) of mail sent after the change', async () => {
    // README: SUPPORT_ADDRESS is "the From address of side conversation mail".
    const dir = mkdtempSync(join(tmpdir(), 'sideline-cli-'));
    const database = process.env['DATABASE_URL'] ? await freshDatabase() : null;
    const sink = await startSmtpSink();
    const started: ServerProcess[] = [];
    const base = { DATABASE_URL: database?.url ?? '', DATA_DIR: dir, INBOUND_DOMAIN, ...PROCESS_ADMIN };
    try {
      const first = await startServer({ ...base, SUPPORT_ADDRESS: 'support@old-brand.test', RELAY: 'off' });
      started.push(first);
      first.proc.kill('SIGTERM');
      assert.equal(await first.exited, 0, first.output());

      const second = await startServer({ ...base, SUPPORT_ADDRESS: 'help@new-brand.test', SMTP_URL: sink.url, RELAY_POLL_MS: '100' });
      started.push(second);
      const ticket = await apiPost<{ ticket: { id: number } }>(second, '/api/v2/tickets.json', { ticket: { subject: 'Rebrand', comment: { body: 'x' } } });
      const created = await apiPost<WriteBody>(second, `/api/v2/tickets/${ticket.ticket.id}/side_conversations.json`, {
        message: { subject: 'After the rebrand', body: 'Hello from the new address.', to: [{ email: 'vendor@example.com' }] },
      });
      await sink.waitForMessages(1, 30_000);
      const mail = await simpleParser(sink.messages[0]!.raw);
      assert.equal(sink.messages[0]!.mailFrom, 'help@new-brand.test');
      assert.deepEqual(addresses(mail.from), [{ name: 'Administrator', address: 'help@new-brand.test' }]);
      assert.match(mail.messageId ?? '', /^<[0-9a-f]{32}@new-brand\.test>$/, 'the new domain; a keyed hash, not the event id');
      second.proc.kill('SIGTERM');
      assert.equal(await second.exited, 0, second.output());
    } finally {
      await reap(started);
      await sink.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 5. Inbound by SMTP (a real SMTP client → our listener)
// ---------------------------------------------------------------------------------------------

describe(`inbound email by SMTP (${STORE_KIND})`, () => {
  let sink: SmtpSink;
  let listener: SMTPServer;
  let port: number;
  let small: SMTPServer;
  let smallPort: number;
  let listenerLog: LogEntry[];

  before(async () => {
    sink = await startSmtpSink();
    const attachments = createAttachmentsService({ db: t.db, blobs: new DatabaseBlobStore(t.db) });
    const captured = captureLogger();
    listenerLog = captured.entries;
    listener = createSmtpListener({ db: t.db, attachments, inboundDomain: INBOUND_DOMAIN, trustedAuthservId: TRUSTED_AUTHSERV_ID, maxBytes: 1_000_000, logger: captured.logger });
    port = await listen(listener);
    small = createSmtpListener({ db: t.db, attachments, inboundDomain: INBOUND_DOMAIN, maxBytes: 4_096, logger: captureLogger().logger });
    smallPort = await listen(small);
  });
  after(async () => {
    await closeListener(listener);
    await closeListener(small);
    await sink.close();
  });
  afterEach(settleOutbox);

  /** An email side conversation to the vendor, sent through the relay; returns what the vendor received. */
  async function conversationWithVendor(subject: string) {
    const ticketId = await newTicket(subject);
    const created = await createEmailSc(ticketId, { subject, body: 'How many units are in stock?', to: [{ email: 'vendor@example.com', name: 'Vendor Person' }] });
    const r = emailRelay(t.db, sink.url);
    try {
      assert.equal(await r.relay.runOnce(), 1);
    } finally {
      r.close();
    }
    const mail = await simpleParser(sink.messages.at(-1)!.raw);
    assert.equal(mail.messageId, await sentMessageId(created.event!.id));
    const replyTo = addresses(mail.replyTo)[0]!.address;
    assert.match(replyTo, REPLY_TO);
    return { ticketId, scId: created.side_conversation.id, messageId: mail.messageId, replyTo, subject };
  }

  const QUOTED_REPLY =
    'Thanks, we have 12 units in stock.\nThey ship Monday.\n\n' +
    'On Mon, 1 Jan 2024 at 10:00, Agent Smith <help@support.test> wrote:\n> How many units are in stock?\n>\n> Agent Smith\n\n' +
    '-- \nVendor Person\nVendor Inc.\n';

  it('a reply to reply+TOKEN with quote, signature and an attachment becomes a reply event via email; a closed conversation reopens', async () => {
    const conv = await conversationWithVendor('Stock check');
    const closed = await t.request({ method: 'PUT', url: `/api/v2/tickets/${conv.ticketId}/side_conversations/${conv.scId}`, payload: { side_conversation: { state: 'closed' } } });
    expectStatus(closed, 200);
    const closedAt = closed.json<WriteBody>().side_conversation.state_updated_at;
    const attachment = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(1500)]);
    const outboxBefore = await countRows(t.db, 'outbox');

    const sent = await sendSmtp(port, {
      envelope: { from: 'vendor@example.com', to: conv.replyTo },
      from: '"Vendor Person" <vendor@example.com>',
      to: conv.replyTo,
      subject: `Re: ${conv.subject}`,
      inReplyTo: conv.messageId,
      references: conv.messageId,
      messageId: '<stock-reply-1@vendor.example>',
      text: QUOTED_REPLY,
      attachments: [{ filename: 'quote.pdf', content: attachment, contentType: 'application/pdf' }],
    });
    assert.ok(sent.accepted, sent.transcript);
    assert.match(sent.reply, /^250 Recorded/);

    const events = await eventsOf(t, conv.ticketId, conv.scId);
    const reply = events.at(-1)!;
    assert.equal(reply.type, 'reply');
    assert.equal(reply.via, 'email');
    assert.deepEqual(reply.actor, { user_id: null, name: 'Vendor Person', email: 'vendor@example.com' });
    assert.equal(reply.message?.body, 'Thanks, we have 12 units in stock.\nThey ship Monday.');
    assert.doesNotMatch(reply.message?.html_body ?? '', /wrote:|Vendor Inc/);
    assert.deepEqual(reply.message?.from, { user_id: null, name: 'Vendor Person', email: 'vendor@example.com' });
    assert.deepEqual(reply.message?.to.map((p) => p.email), [agent.email], 'addressed to the other participants');
    assert.equal(reply.message?.attachments.length, 1);
    const listed = reply.message!.attachments[0]!;
    assert.equal(listed.file_name, 'quote.pdf');
    assert.equal(listed.size, attachment.length);
    assert.ok((await download(listed.content_url)).equals(attachment), 'the attachment downloads byte for byte');
    // Mail that came in is not sent back out.
    assert.deepEqual(reply.message?.deliveries, []);
    assert.equal(await countRows(t.db, 'outbox'), outboxBefore);
    const sc = await showSc(t, conv.ticketId, conv.scId);
    assert.equal(sc.state, 'open', 'the reply reopened the closed conversation');
    assert.ok(Date.parse(sc.state_updated_at) >= Date.parse(closedAt));
    assert.equal(sc.preview_text.startsWith('Thanks, we have 12 units in stock.'), true);
    const recorded = await t.db.selectFrom('email_messages').selectAll().where('message_id', '=', '<stock-reply-1@vendor.example>').execute();
    assert.deepEqual(recorded.map((m) => [m.direction, m.event_id, m.side_conversation_id]), [['inbound', reply.id, conv.scId]]);

    // The agent's next reply threads under the vendor's message.
    const answer = await replyByApi(conv.ticketId, conv.scId, 'Great, please ship them.');
    const r = emailRelay(t.db, sink.url);
    try {
      assert.equal(await r.relay.runOnce(), 1);
    } finally {
      r.close();
    }
    const out = await simpleParser(sink.messages.at(-1)!.raw);
    assert.equal(out.messageId, await sentMessageId(answer.event!.id));
    assert.equal(out.inReplyTo, '<stock-reply-1@vendor.example>');
    assert.deepEqual(referencesOf(out), [conv.messageId, '<stock-reply-1@vendor.example>']);
    assert.deepEqual(addresses(out.to), [{ name: 'Vendor Person', address: 'vendor@example.com' }]);
  });

  it('a sender who is a user of the account is recorded as that user', async () => {
    const conv = await conversationWithVendor('Known sender');
    const colleague = await t.createUser('agent', 'Dana Colleague');
    const sent = await sendSmtp(port, {
      envelope: { from: colleague.email, to: conv.replyTo },
      from: `"Someone Else" <${colleague.email}>`,
      to: conv.replyTo,
      subject: `Re: ${conv.subject}`,
      // The receiving MX vouches for the sender (see test/channels/email/inbound-identity.test.ts for the forgeries).
      headers: { 'Authentication-Results': `${TRUSTED_AUTHSERV_ID}; dkim=pass header.d=example.com; dmarc=pass header.from=example.com` },
      text: 'Adding myself to this thread.',
    });
    assert.ok(sent.accepted, sent.transcript);
    const reply = (await eventsOf(t, conv.ticketId, conv.scId)).at(-1)!;
    assert.equal(reply.via, 'email');
    assert.deepEqual(reply.actor, { user_id: colleague.id, name: 'Dana Colleague', email: colleague.email });
    assert.equal(reply.message?.body, 'Adding myself to this thread.');
    const sc = await showSc(t, conv.ticketId, conv.scId);
    assert.ok(sc.participants.some((p) => p.user_id === colleague.id && p.email === colleague.email), 'the sender joined the conversation');
  });

  it('threading by In-Reply-To alone (to the support address, where a reply that drops Reply-To goes): taken from a participant, refused with 550 for anyone else', async () => {
    const conv = await conversationWithVendor('Header threading');
    const eventsBefore = (await eventsOf(t, conv.ticketId, conv.scId)).length;
    const stranger = await sendSmtp(port, {
      envelope: { from: 'stranger@example.com', to: SUPPORT_ADDRESS },
      from: 'stranger@example.com',
      to: SUPPORT_ADDRESS,
      subject: `Re: ${conv.subject}`,
      inReplyTo: conv.messageId,
      text: 'I was not invited but here I am.',
    });
    assert.equal(stranger.accepted, false);
    assert.match(stranger.reply, /^550 .*stranger@example\.com is not a participant/);
    assert.equal((await eventsOf(t, conv.ticketId, conv.scId)).length, eventsBefore);

    const participant = await sendSmtp(port, {
      envelope: { from: 'vendor@example.com', to: SUPPORT_ADDRESS },
      from: '"Vendor Person" <vendor@example.com>',
      to: SUPPORT_ADDRESS,
      subject: `Re: ${conv.subject}`,
      inReplyTo: conv.messageId,
      text: 'Answering without the reply address.',
    });
    assert.ok(participant.accepted, participant.transcript);
    assert.match(participant.reply, /^250 Recorded/);
    const events = await eventsOf(t, conv.ticketId, conv.scId);
    assert.equal(events.length, eventsBefore + 1);
    assert.equal(events.at(-1)!.message?.body, 'Answering without the reply address.');
    assert.deepEqual(events.at(-1)!.actor, { user_id: null, name: 'Vendor Person', email: 'vendor@example.com' });
  });

  it('an unknown reply token and a recipient outside INBOUND_DOMAIN are refused at RCPT with 550', async () => {
    const eventsBefore = await countRows(t.db, 'side_conversation_events');
    const unknownToken = `reply+${'0'.repeat(32)}@${INBOUND_DOMAIN}`;
    const unknown = await sendSmtp(port, { envelope: { from: 'vendor@example.com', to: unknownToken }, from: 'vendor@example.com', to: unknownToken, text: 'Hello?' });
    assert.equal(unknown.accepted, false);
    assert.equal(unknown.refusedAt, 'RCPT TO');
    assert.match(unknown.reply, /^550 .*no such side conversation/);
    assert.match(unknown.transcript, /C: RCPT TO:<reply\+0{32}@inbound\.test>/);
    // The client pipelines DATA after RCPT; with no recipient left the server never asks for the message (354).
    assert.doesNotMatch(unknown.transcript, /S: 354/);

    const outside = await sendSmtp(port, { envelope: { from: 'vendor@example.com', to: 'someone@elsewhere.test' }, from: 'vendor@example.com', to: 'someone@elsewhere.test', text: 'Relay this please.' });
    assert.equal(outside.accepted, false);
    assert.equal(outside.refusedAt, 'RCPT TO');
    assert.match(outside.reply, /^550 .*someone@elsewhere\.test: relay not permitted/);
    assert.doesNotMatch(outside.transcript, /S: 354/);
    assert.equal(await countRows(t.db, 'side_conversation_events'), eventsBefore);
  });

  it('the same message (same Message-ID) sent twice records one event', async () => {
    const conv = await conversationWithVendor('Duplicate delivery');
    const eventsBefore = (await eventsOf(t, conv.ticketId, conv.scId)).length;
    const message: SmtpMessage = {
      envelope: { from: 'vendor@example.com', to: conv.replyTo },
      from: '"Vendor Person" <vendor@example.com>',
      to: conv.replyTo,
      subject: `Re: ${conv.subject}`,
      messageId: '<dup-42@vendor.example>',
      text: 'Sent once, delivered twice.',
    };
    const first = await sendSmtp(port, message);
    assert.ok(first.accepted, first.transcript);
    assert.match(first.reply, /^250 Recorded/);
    const second = await sendSmtp(port, message);
    assert.ok(second.accepted, second.transcript);
    assert.match(second.reply, /^250 Already received/);
    const events = await eventsOf(t, conv.ticketId, conv.scId);
    assert.equal(events.length, eventsBefore + 1);
    assert.equal(events.filter((e) => e.message?.body === 'Sent once, delivered twice.').length, 1);
    assert.equal((await t.db.selectFrom('email_messages').select('id').where('message_id', '=', '<dup-42@vendor.example>').execute()).length, 1);
  });

  it('the same message arriving twice at the same moment records one event, and every copy is acknowledged', async () => {
    const conv = await conversationWithVendor('Concurrent duplicate');
    const eventsBefore = (await eventsOf(t, conv.ticketId, conv.scId)).length;
    const message: SmtpMessage = {
      envelope: { from: 'vendor@example.com', to: conv.replyTo },
      from: '"Vendor Person" <vendor@example.com>',
      to: conv.replyTo,
      subject: `Re: ${conv.subject}`,
      messageId: '<race-7@vendor.example>',
      text: 'Raced through two MX hosts.',
    };
    const results = await Promise.all([sendSmtp(port, message), sendSmtp(port, message), sendSmtp(port, message)]);
    for (const r of results) {
      assert.ok(r.accepted, r.transcript);
      assert.match(r.reply, /^250 (Recorded|Already received)/);
    }
    assert.equal(results.filter((r) => /^250 Recorded/.test(r.reply)).length, 1);
    const events = await eventsOf(t, conv.ticketId, conv.scId);
    assert.equal(events.length, eventsBefore + 1);
    assert.equal(events.at(-1)!.message?.body, 'Raced through two MX hosts.');
  });

  it('bad mail (garbage MIME, over the size limit, no From) gets a clear refusal and the listener takes the next good message', async () => {
    const conv = await conversationWithVendor('Bad mail');
    const token = conv.replyTo;
    const eventsBefore = (await eventsOf(t, conv.ticketId, conv.scId)).length;
    const good = async (server: number, body: string) => {
      const ok = await sendSmtp(server, { envelope: { from: 'vendor@example.com', to: token }, from: 'vendor@example.com', to: token, subject: `Re: ${conv.subject}`, text: body });
      assert.ok(ok.accepted, ok.transcript);
      assert.match(ok.reply, /^250 Recorded/);
    };

    // A multipart whose boundary is reused by its only part: nothing readable in it.
    const garbage =
      `From: vendor@example.com\r\nTo: ${token}\r\nSubject: junk\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n` +
      '--b1\r\nContent-Type: multipart/alternative; boundary="b1"\r\n\r\n--b1--\r\n\u0000\u0001\u00ff\u00fe garbage\r\n';
    const junk = await sendSmtp(port, { envelope: { from: 'vendor@example.com', to: token }, raw: Buffer.from(garbage, 'latin1') });
    assert.equal(junk.accepted, false);
    assert.match(junk.reply, /^55\d /);
    assert.match(junk.reply, /no text and no attachments|Malformed message/);
    await good(port, 'Still here after the garbage.');

    const noFrom = await sendSmtp(port, { envelope: { from: 'vendor@example.com', to: token }, raw: `To: ${token}\r\nSubject: anonymous\r\n\r\nWho sent this?\r\n` });
    assert.equal(noFrom.accepted, false);
    assert.match(noFrom.reply, /^550 .*no valid From address/);
    await good(port, 'Still here after the anonymous one.');

    const big = await sendSmtp(smallPort, { envelope: { from: 'vendor@example.com', to: token }, from: 'vendor@example.com', to: token, text: `${'x'.repeat(80)}\n${'y'.repeat(10_000)}` });
    assert.equal(big.accepted, false);
    assert.match(big.reply, /^552 .*size limit of 4096 bytes/);
    await good(smallPort, 'Small enough.');

    const bodies = (await eventsOf(t, conv.ticketId, conv.scId)).slice(eventsBefore).map((e) => e.message?.body);
    assert.deepEqual(bodies, ['Still here after the garbage.', 'Still here after the anonymous one.', 'Small enough.'], 'only the good messages were recorded');
    assert.equal(listenerLog.filter((e) => e.level === 'error').length, 0, JSON.stringify(listenerLog.filter((e) => e.level === 'error')));
  });
});

// ---------------------------------------------------------------------------------------------
// 6. Inbound by HTTP
// ---------------------------------------------------------------------------------------------

describe(`inbound email by HTTP (${STORE_KIND})`, () => {
  afterEach(settleOutbox);

  function rawMessage(headers: Record<string, string>, body: string): string {
    const lines = Object.entries({ Date: new Date().toUTCString(), 'MIME-Version': '1.0', 'Content-Type': 'text/plain; charset=utf-8', ...headers }).map(([k, v]) => `${k}: ${v}`);
    return `${lines.join('\r\n')}\r\n\r\n${body.replace(/\n/g, '\r\n')}\r\n`;
  }

  function post(raw: string, authorization: string | null, contentType = 'message/rfc822') {
    return t.request({
      method: 'POST',
      url: '/api/v2/inbound/email',
      payload: raw,
      headers: { 'content-type': contentType, ...(authorization === null ? {} : { authorization }) },
      auth: null,
    });
  }

  async function emailConversation(subject: string) {
    const ticketId = await newTicket(subject);
    const created = await createEmailSc(ticketId, { subject, body: 'Status?', to: [{ email: 'vendor@example.com', name: 'Vendor Person' }] });
    const row = await t.db.selectFrom('side_conversations').select('reply_token').where('id', '=', created.side_conversation.id).executeTakeFirstOrThrow();
    return { ticketId, scId: created.side_conversation.id, token: row.reply_token!, createEventId: created.event!.id };
  }

  it('a raw message with the shared secret is recorded (201), the same again is a duplicate (200)', async () => {
    const conv = await emailConversation('HTTP inbound');
    const raw = rawMessage(
      { From: '"Vendor Person" <vendor@example.com>', To: `reply+${conv.token}@${INBOUND_DOMAIN}`, Subject: 'Re: HTTP inbound', 'Message-ID': '<http-1@vendor.example>' },
      'Delivered by webhook.\n\nOn Tue, Agent Smith wrote:\n> Status?\n',
    );
    const first = await post(raw, `Bearer ${INBOUND_SECRET}`);
    expectStatus(first, 201);
    const out = first.json<InboundEnvelope>().inbound_email;
    assert.equal(out.side_conversation_id, conv.scId);
    assert.equal(out.ticket_id, conv.ticketId);
    assert.equal(out.duplicate, false);
    assert.ok(out.event_id);
    const event = await eventById(conv.ticketId, conv.scId, out.event_id);
    assert.equal(event.type, 'reply');
    assert.equal(event.via, 'email');
    assert.deepEqual(event.actor, { user_id: null, name: 'Vendor Person', email: 'vendor@example.com' });
    assert.equal(event.message?.body, 'Delivered by webhook.');

    // Basic with the secret as the password is the same secret (for providers that put it in the URL).
    const again = await post(raw, `Basic ${Buffer.from(`mailgun:${INBOUND_SECRET}`).toString('base64')}`);
    expectStatus(again, 200);
    assert.deepEqual(again.json<InboundEnvelope>(), { inbound_email: { ...out, duplicate: true } });
    assert.equal((await eventsOf(t, conv.ticketId, conv.scId)).filter((e) => e.via === 'email').length, 1);
  });

  it('a wrong or missing secret is 401 and records nothing', async () => {
    const conv = await emailConversation('HTTP auth');
    const raw = rawMessage({ From: 'vendor@example.com', To: `reply+${conv.token}@${INBOUND_DOMAIN}`, Subject: 'Re: HTTP auth', 'Message-ID': '<http-auth@vendor.example>' }, 'Should not land.');
    const events = await countRows(t.db, 'side_conversation_events');
    const messages = await countRows(t.db, 'email_messages');
    for (const authorization of [`Bearer ${INBOUND_SECRET}x`, 'Bearer short', null, t.admin.auth]) {
      const res = await post(raw, authorization);
      expectStatus(res, 401);
      assert.deepEqual(res.json(), { error: "Couldn't authenticate you" });
    }
    assert.equal(await countRows(t.db, 'side_conversation_events'), events);
    assert.equal(await countRows(t.db, 'email_messages'), messages);
    assert.equal((await eventsOf(t, conv.ticketId, conv.scId)).length, 1);
  });

  it('a message over the size limit is 413 and records nothing', async () => {
    const conv = await emailConversation('HTTP size');
    const events = await countRows(t.db, 'side_conversation_events');
    const raw = rawMessage({ From: 'vendor@example.com', To: `reply+${conv.token}@${INBOUND_DOMAIN}`, Subject: 'Re: big', 'Message-ID': '<http-big@vendor.example>' }, 'z'.repeat(1_100_000));
    const res = await post(raw, `Bearer ${INBOUND_SECRET}`);
    expectStatus(res, 413);
    assert.equal(await countRows(t.db, 'side_conversation_events'), events);
    assert.equal((await t.db.selectFrom('email_messages').select('id').where('message_id', '=', '<http-big@vendor.example>').execute()).length, 0);
  });

  it('a message that answers no side conversation is 422 and records nothing', async () => {
    const events = await countRows(t.db, 'side_conversation_events');
    const raw = rawMessage(
      { From: 'vendor@example.com', To: `support@${INBOUND_DOMAIN}`, Subject: 'Re: something else', 'In-Reply-To': '<never-sent@support.test>', 'Message-ID': '<http-lost@vendor.example>' },
      'Which thread is this?',
    );
    const res = await post(raw, `Bearer ${INBOUND_SECRET}`);
    expectStatus(res, 422);
    const body = res.json<{ error: string; details: { base: Array<{ description: string; error: string }> } }>();
    assert.equal(body.error, 'RecordInvalid');
    assert.equal(body.details.base[0]?.error, 'InboundRefused');
    assert.match(body.details.base[0]?.description ?? '', /does not answer any side conversation/);
    const unknownToken = rawMessage({ From: 'vendor@example.com', To: `reply+${'f'.repeat(32)}@${INBOUND_DOMAIN}`, Subject: 'Re: ?', 'Message-ID': '<http-lost-2@vendor.example>' }, 'Hello?');
    const res2 = await post(unknownToken, `Bearer ${INBOUND_SECRET}`);
    expectStatus(res2, 422);
    assert.match(res2.body, /Unknown reply address/);
    assert.equal(await countRows(t.db, 'side_conversation_events'), events);
  });

  it('without a configured secret the route is 404 EndpointDisabled, saying how to enable it', async () => {
    const bare = await startTestApp();
    try {
      const res = await bare.request({
        method: 'POST',
        url: '/api/v2/inbound/email',
        payload: rawMessage({ From: 'vendor@example.com', To: `support@${INBOUND_DOMAIN}`, Subject: 'x' }, 'x'),
        headers: { 'content-type': 'message/rfc822', authorization: `Bearer ${INBOUND_SECRET}` },
        auth: null,
      });
      expectStatus(res, 404);
      const body = res.json<{ error: string; description: string }>();
      assert.equal(body.error, 'EndpointDisabled');
      assert.match(body.description, /disabled.*INBOUND_EMAIL_SECRET/);
      assert.equal(await countRows(bare.db, 'side_conversation_events'), 0);
    } finally {
      await bare.close();
    }
  });
});
