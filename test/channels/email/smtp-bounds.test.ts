/**
 * The inbound SMTP listener's bounds (the "Trust" issue): a recipient that names nothing of ours is
 * refused at RCPT, before the client sends a byte of the message; a message is spooled to disk as
 * it arrives (an oversized one answered 552 without the process holding it); at most
 * INBOUND_SMTP_MAX_CLIENTS sessions at once (the next gets 421 while the others finish); and the
 * replies that should land still do.
 *
 * The listener runs in this process for the protocol checks; the memory check runs `sideline serve`
 * as its own process and reads its resident set from /proc, so the client's buffers are not counted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SMTPServer } from 'smtp-server';
import { createAttachmentsService } from '../../../src/attachments/service.js';
import { DatabaseBlobStore } from '../../../src/attachments/storage.js';
import { createSmtpListener } from '../../../src/channels/email/smtp-listener.js';
import type { RelayLogger } from '../../../src/outbox/relay.js';
import { countRows, createTempDatabase, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../../helpers/app.js';
import { eventsOf, expectStatus } from '../../helpers/api.js';
import type { WriteBody } from '../../helpers/api-types.js';
import { freePort, startServer, type ServerProcess } from '../../helpers/server.js';
import { sendSmtp } from '../../helpers/smtp-client.js';
import { closeListener, listen } from '../../helpers/smtp-listener.js';

const INBOUND_DOMAIN = 'inbound.test';
const SUPPORT_ADDRESS = `help@${INBOUND_DOMAIN}`;
const quiet: RelayLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * A bare SMTP session over a socket: one command, one reply (multi-line replies joined), and DATA
 * streamed in chunks with backpressure, so a test can hold a session open, send exactly what it
 * means to (no SIZE= on MAIL FROM), and see which command an answer came to.
 */
class RawSmtp {
  readonly #socket: net.Socket;
  #buffer = '';
  #lines: string[] = [];
  #waiting: ((reply: string) => void) | null = null;
  closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let end: number;
      while ((end = this.#buffer.indexOf('\r\n')) !== -1) {
        const line = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        this.#lines.push(line);
        if (/^\d{3} /.test(line)) this.#deliver(this.#lines.join('\n'));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.#deliver(this.#lines.length ? this.#lines.join('\n') : 'closed');
    });
  }

  #pending: string[] = [];
  #deliver(reply: string): void {
    this.#lines = [];
    if (this.#waiting) {
      const waiting = this.#waiting;
      this.#waiting = null;
      waiting(reply);
    } else this.#pending.push(reply);
  }

  /** The next reply (or "closed" once the server hung up with nothing more to say). */
  reply(): Promise<string> {
    const ready = this.#pending.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.closed) return Promise.resolve('closed');
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  static async open(port: number): Promise<{ session: RawSmtp; greeting: string }> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
      s.once('error', reject);
    });
    const session = new RawSmtp(socket);
    return { session, greeting: await session.reply() };
  }

  command(line: string): Promise<string> {
    this.#socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** Writes `bytes` of message (header, then lines of x) and the final dot; resolves with the answer to it. */
  async data(header: string, bytes: number): Promise<string> {
    const line = `${'x'.repeat(998)}\r\n`;
    const chunk = Buffer.from(line.repeat(64));
    this.#socket.write(header.replace(/\n/g, '\r\n') + '\r\n');
    for (let sent = 0; sent < bytes && !this.closed; sent += chunk.length) {
      if (!this.#socket.write(chunk)) await this.#drained();
    }
    this.#socket.write('.\r\n');
    return this.reply();
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#socket.off('drain', done).off('close', done);
        resolve();
      };
      this.#socket.on('drain', done).on('close', done);
    });
  }

  end(): void {
    this.#socket.end('QUIT\r\n');
  }
}

describe(`inbound SMTP bounds (${STORE_KIND})`, () => {
  let t: TestApp;
  let agent: TestUser;
  let spoolDir: string;
  let listener: SMTPServer;
  let port: number;
  let ticketId: number;
  let scId: string;
  let replyTo: string;
  let sentMessageId: string;

  before(async () => {
    t = await startTestApp({ inboundDomain: INBOUND_DOMAIN, inboundEmailSecret: 'a-long-shared-secret', inboundMaxBytes: 1_000_000 });
    await t.db.updateTable('accounts').set({ support_address: SUPPORT_ADDRESS }).where('id', '=', t.accountId).execute();
    agent = await t.createUser('agent', 'Agent Smith');
    spoolDir = mkdtempSync(join(tmpdir(), 'sideline-spool-'));
    const attachments = createAttachmentsService({ db: t.db, blobs: new DatabaseBlobStore(t.db) });
    listener = createSmtpListener({ db: t.db, attachments, inboundDomain: INBOUND_DOMAIN, maxBytes: 200_000, logger: quiet, spoolDir });
    port = await listen(listener);

    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Toner', comment: { body: 'Out of toner.' } } } });
    expectStatus(ticket, 201);
    ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const created = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Toner order', body: 'How many?', to: [{ email: 'vendor@example.com', name: 'Vendor Person' }] } },
      auth: agent.auth,
    });
    expectStatus(created, 201);
    scId = created.json<WriteBody>().side_conversation.id;
    const row = await t.db.selectFrom('side_conversations').select('reply_token').where('id', '=', scId).executeTakeFirstOrThrow();
    replyTo = `reply+${row.reply_token!}@${INBOUND_DOMAIN}`;
    const sent = await t.db.selectFrom('email_messages').select('message_id').where('side_conversation_id', '=', scId).where('direction', '=', 'outbound').executeTakeFirstOrThrow();
    sentMessageId = sent.message_id;
  });
  after(async () => {
    if (listener) await closeListener(listener);
    await t?.close();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it('a recipient that names no conversation and no account is refused at RCPT, before the message is sent', async () => {
    const eventsBefore = await countRows(t.db, 'side_conversation_events');
    for (const [to, reason] of [
      [`reply+${'0'.repeat(32)}@${INBOUND_DOMAIN}`, /^550 .*no such side conversation/],
      [`reply+not-a-token@${INBOUND_DOMAIN}`, /^550 .*no such side conversation/],
      [`anyone@${INBOUND_DOMAIN}`, /^550 .*no such mailbox/],
      ['someone@elsewhere.test', /^550 .*relay not permitted/],
    ] as const) {
      const attempt = await sendSmtp(port, { envelope: { from: 'vendor@example.com', to }, from: 'vendor@example.com', to, subject: 'Hello', text: 'x'.repeat(50_000) });
      assert.equal(attempt.accepted, false, to);
      assert.equal(attempt.refusedAt, 'RCPT TO', `${to}: ${attempt.transcript}`);
      assert.match(attempt.reply, reason, to);
      // The client pipelines DATA after RCPT; with no recipient left the server never asks for the message.
      assert.doesNotMatch(attempt.transcript, /S: 354/, to);
    }

    // Over a bare session: the 550 answers the RCPT line itself, and DATA finds no recipient.
    const { session, greeting } = await RawSmtp.open(port);
    assert.match(greeting, /^220 /);
    assert.match(await session.command('EHLO vendor.example'), /^250/m);
    assert.match(await session.command('MAIL FROM:<vendor@example.com>'), /^250/);
    assert.match(await session.command(`RCPT TO:<nobody@${INBOUND_DOMAIN}>`), /^550 /);
    assert.match(await session.command('DATA'), /^503 .*need RCPT/);
    session.end();
    assert.equal(await countRows(t.db, 'side_conversation_events'), eventsBefore);
  });

  it('a session that keeps guessing recipients is hung up on (421) after ten refusals', async () => {
    const { session } = await RawSmtp.open(port);
    await session.command('EHLO vendor.example');
    await session.command('MAIL FROM:<vendor@example.com>');
    const answers: string[] = [];
    for (let i = 0; i < 12; i++) {
      const answer = await session.command(`RCPT TO:<reply+${i.toString(16).padStart(32, '0')}@${INBOUND_DOMAIN}>`);
      answers.push(answer);
      if (!answer.startsWith('550 ')) break;
    }
    assert.deepEqual(answers.map((a) => a.slice(0, 4)), [...Array(10).fill('550 '), '421 '], answers.join('\n'));
    assert.equal(await session.reply(), 'closed', 'the connection closed after the 421');
  });

  it('a reply to the reply address lands; so does a References-only reply to the support address from a participant', async () => {
    const byToken = await sendSmtp(port, {
      envelope: { from: 'vendor@example.com', to: replyTo },
      from: '"Vendor Person" <vendor@example.com>',
      to: replyTo,
      subject: 'Re: Toner order',
      text: 'Twelve in stock.',
    });
    assert.ok(byToken.accepted, byToken.transcript);
    assert.match(byToken.reply, /^250 Recorded/);

    const byHeaders = await sendSmtp(port, {
      envelope: { from: 'vendor@example.com', to: SUPPORT_ADDRESS.toUpperCase() },
      from: '"Vendor Person" <vendor@example.com>',
      to: SUPPORT_ADDRESS,
      subject: 'Re: Toner order',
      references: sentMessageId,
      text: 'They ship Monday.',
    });
    assert.ok(byHeaders.accepted, byHeaders.transcript);
    assert.match(byHeaders.reply, /^250 Recorded/);
    const bodies = (await eventsOf(t, ticketId, scId)).map((e) => e.message?.body);
    assert.deepEqual(bodies.slice(-2), ['Twelve in stock.', 'They ship Monday.']);
  });

  it('a message that passes RCPT but threads nowhere, or comes from a stranger, is answered 550 after DATA', async () => {
    const eventsBefore = await countRows(t.db, 'side_conversation_events');
    const unthreaded = await sendSmtp(port, { envelope: { from: 'vendor@example.com', to: SUPPORT_ADDRESS }, from: 'vendor@example.com', to: SUPPORT_ADDRESS, subject: 'Hi', text: 'New topic.' });
    assert.equal(unthreaded.accepted, false);
    assert.match(unthreaded.transcript, /S: 354/, 'the recipient was taken and the message sent');
    assert.match(unthreaded.reply, /^550 .*does not answer any side conversation/);

    const stranger = await sendSmtp(port, {
      envelope: { from: 'stranger@example.com', to: SUPPORT_ADDRESS },
      from: 'stranger@example.com',
      to: SUPPORT_ADDRESS,
      subject: 'Re: Toner order',
      references: sentMessageId,
      text: 'Let me in.',
    });
    assert.equal(stranger.accepted, false);
    assert.match(stranger.reply, /^550 .*stranger@example\.com is not a participant/);
    assert.equal(await countRows(t.db, 'side_conversation_events'), eventsBefore);
  });

  it('an oversized message is answered 552 after its DATA, the session goes on, and no spool file is left behind', async () => {
    const { session } = await RawSmtp.open(port);
    await session.command('EHLO vendor.example');
    assert.match(await session.command('MAIL FROM:<vendor@example.com>'), /^250/);
    assert.match(await session.command(`RCPT TO:<${replyTo}>`), /^250/);
    assert.match(await session.command('DATA'), /^354/);
    assert.match(await session.data(`From: vendor@example.com\nTo: ${replyTo}\nSubject: big\n`, 1_000_000), /^552 .*size limit of 200000 bytes/);
    // The same session delivers a good message next.
    assert.match(await session.command('MAIL FROM:<vendor@example.com>'), /^250/);
    assert.match(await session.command(`RCPT TO:<${replyTo}>`), /^250/);
    assert.match(await session.command('DATA'), /^354/);
    assert.match(await session.data(`From: vendor@example.com\nTo: ${replyTo}\nSubject: Re: Toner order\nMessage-ID: <after-big@vendor.example>\n`, 1_000), /^250 Recorded/);
    session.end();
    assert.deepEqual(readdirSync(spoolDir), [], 'every spool file was removed once answered');
  });

  it('INBOUND_SMTP_MAX_CLIENTS: the session over the cap is refused with 421 while the open ones complete', async () => {
    const capped = createSmtpListener({
      db: t.db,
      attachments: createAttachmentsService({ db: t.db, blobs: new DatabaseBlobStore(t.db) }),
      inboundDomain: INBOUND_DOMAIN,
      maxBytes: 200_000,
      logger: quiet,
      spoolDir,
      maxClients: 2,
    });
    const cappedPort = await listen(capped);
    try {
      const first = await RawSmtp.open(cappedPort);
      const second = await RawSmtp.open(cappedPort);
      assert.match(first.greeting, /^220 /);
      assert.match(second.greeting, /^220 /);
      const third = await RawSmtp.open(cappedPort);
      assert.match(third.greeting, /^421 .*Too many connected clients/);
      assert.equal(await third.session.reply(), 'closed', 'the extra session is closed');

      // The two open sessions deliver their messages.
      for (const [i, { session }] of [first, second].entries()) {
        await session.command('EHLO vendor.example');
        assert.match(await session.command('MAIL FROM:<vendor@example.com>'), /^250/);
        assert.match(await session.command(`RCPT TO:<${replyTo}>`), /^250/);
        assert.match(await session.command('DATA'), /^354/);
        const answer = await session.data(`From: vendor@example.com\nTo: ${replyTo}\nSubject: Re: Toner order\nMessage-ID: <capped-${i}@vendor.example>\n`, 500);
        assert.match(answer, /^250 Recorded/);
        session.end();
      }
      const recorded = await t.db.selectFrom('email_messages').select('message_id').where('message_id', 'in', ['<capped-0@vendor.example>', '<capped-1@vendor.example>']).execute();
      assert.equal(recorded.length, 2);
    } finally {
      await closeListener(capped);
    }
  });
});

/** Resident set of a live process, from /proc/PID/status, in bytes. */
function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, 'VmRSS in /proc/PID/status');
  return Number(match[1]) * 1024;
}

describe(`inbound SMTP memory (${STORE_KIND}, \`sideline serve\`)`, () => {
  const MESSAGES = 8;
  const MESSAGE_BYTES = 64 * 1024 * 1024;
  const MAX_BYTES = 30 * 1024 * 1024;
  let dir: string;
  let database: { url: string; drop(): Promise<void> } | null = null;
  let server: ServerProcess;
  let smtpPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sideline-smtp-memory-'));
    database = process.env['DATABASE_URL'] ? await createTempDatabase(process.env['DATABASE_URL'], 'smtp_memory') : null;
    smtpPort = await freePort();
    server = await startServer({
      DATABASE_URL: database?.url ?? '',
      DATA_DIR: dir,
      SUPPORT_ADDRESS,
      INBOUND_DOMAIN,
      INBOUND_SMTP_PORT: String(smtpPort),
      INBOUND_MAX_BYTES: String(MAX_BYTES),
      SIDELINE_ADMIN_EMAIL: 'owner@example.com',
      SIDELINE_ADMIN_PASSWORD: 'a-long-admin-password',
    });
  });
  after(async () => {
    await server?.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends `count` messages of `bytes` each to `to` at once; returns the answers and the server's peak growth in resident bytes. */
  async function flood(count: number, bytes: number, to: string): Promise<{ answers: string[]; growth: number }> {
    const before = residentBytes(server.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(server.pid))), 20);
    try {
      const answers = await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const { session } = await RawSmtp.open(smtpPort);
          await session.command('EHLO vendor.example');
          await session.command('MAIL FROM:<vendor@example.com>');
          const rcpt = await session.command(`RCPT TO:<${to}>`);
          if (!rcpt.startsWith('250')) return `RCPT: ${rcpt}`;
          const go = await session.command('DATA');
          if (!go.startsWith('354')) return `DATA: ${go}`;
          const answer = await session.data(`From: vendor@example.com\nTo: ${to}\nSubject: flood ${i}\n`, bytes);
          session.end();
          return answer;
        }),
      );
      peak = Math.max(peak, residentBytes(server.pid));
      return { answers, growth: peak - before };
    } finally {
      clearInterval(sampler);
    }
  }

  // Garbage chunks wait for the collector (V8 lets ~64 MiB of freed buffers pile up), so the bound is a
  // quarter of what was sent, not a few buffers; held in memory, the messages alone would exceed it.
  it(`${MESSAGES} messages of 64 MiB at once (limit 30 MiB) are each answered 552, and the server's memory does not grow by their size`, async () => {
    await flood(1, 1_000, SUPPORT_ADDRESS); // warm the code paths before measuring
    const { answers, growth } = await flood(MESSAGES, MESSAGE_BYTES, SUPPORT_ADDRESS);
    for (const answer of answers) assert.match(answer, new RegExp(`^552 .*size limit of ${MAX_BYTES} bytes`));
    const total = MESSAGES * MESSAGE_BYTES;
    console.log(`# ${MESSAGES} × 64 MiB oversized: the server's resident set grew by ${(growth / 1048576).toFixed(1)} MiB at its peak (${(total / 1048576).toFixed(0)} MiB sent)`);
    // Held in memory, the first 30 MiB of each would be 240 MiB.
    assert.ok(growth < total / 4, `the resident set grew by ${growth} bytes for ${total} bytes sent`);
    const health = await fetch(`${server.baseUrl}/healthz`);
    assert.equal(health.status, 200);
  });

  it('16 messages of 28 MiB at once that thread nowhere are answered 550 without being parsed into memory', async () => {
    const count = 16;
    const bytes = 28 * 1024 * 1024;
    const { answers, growth } = await flood(count, bytes, SUPPORT_ADDRESS);
    for (const answer of answers) assert.match(answer, /^550 .*does not answer any side conversation/);
    const total = count * bytes;
    console.log(`# ${count} × 28 MiB unthreaded: the server's resident set grew by ${(growth / 1048576).toFixed(1)} MiB at its peak (${(total / 1048576).toFixed(0)} MiB sent)`);
    assert.ok(growth < total / 4, `the resident set grew by ${growth} bytes for ${total} bytes sent`);
  });
});
