/**
 * A second, independent SMTP client against our inbound listener: Debian's swaks (the rest of the
 * suite uses nodemailer, see helpers/smtp-client.ts). It runs when swaks is on PATH; under CI=true
 * (where .ci/run installs it) a missing swaks fails the run instead of hiding the test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type { SMTPServer } from 'smtp-server';
import { createAttachmentsService } from '../../../src/attachments/service.js';
import { DatabaseBlobStore } from '../../../src/attachments/storage.js';
import { createSmtpListener } from '../../../src/channels/email/smtp-listener.js';
import { startTestApp, STORE_KIND, type TestApp } from '../../helpers/app.js';
import { eventsOf, expectStatus } from '../../helpers/api.js';
import type { WriteBody } from '../../helpers/api-types.js';

const exec = promisify(execFile);
const INBOUND_DOMAIN = 'inbound.test';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

const swaksFound = spawnSync('swaks', ['--version'], { stdio: 'ignore' }).error === undefined;
const inCi = process.env['CI'] === 'true';
const skip = swaksFound || inCi ? false : 'swaks is not installed (apt-get install swaks); the nodemailer SMTP tests cover the listener';

describe(`inbound email from swaks (${STORE_KIND})`, { skip }, () => {
  let t: TestApp;
  let listener: SMTPServer;
  let port: number;

  before(async () => {
    t = await startTestApp();
    const attachments = createAttachmentsService({ db: t.db, blobs: new DatabaseBlobStore(t.db) });
    listener = createSmtpListener({ db: t.db, attachments, inboundDomain: INBOUND_DOMAIN, maxBytes: 1_000_000, logger: quiet });
    await new Promise<void>((resolve, reject) => {
      listener.server.once('error', reject);
      listener.listen(0, '127.0.0.1', () => resolve());
    });
    port = (listener.server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    await t.close();
  });

  it('swaks is on PATH (CI installs it)', () => {
    assert.ok(swaksFound, 'CI=true but swaks is missing: .ci/run installs it with apt-get install swaks');
  });

  it('a reply sent with swaks to reply+TOKEN is recorded as a reply event via email; an unknown token gets 550 at RCPT', { skip: !swaksFound }, async () => {
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Swaks', comment: { body: 'x' } } } });
    expectStatus(ticket, 201);
    const ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const created = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Toner', body: 'How many?', to: [{ email: 'vendor@example.com', name: 'Vendor Person' }] } },
    });
    expectStatus(created, 201);
    const scId = created.json<WriteBody>().side_conversation.id;
    const row = await t.db.selectFrom('side_conversations').select('reply_token').where('id', '=', scId).executeTakeFirstOrThrow();
    const replyTo = `reply+${row.reply_token}@${INBOUND_DOMAIN}`;

    const base = ['--server', `127.0.0.1:${port}`, '--helo', 'vendor.example', '--from', 'vendor@example.com'];
    const { stdout } = await exec('swaks', [...base, '--to', replyTo, '--h-From', '"Vendor Person" <vendor@example.com>', '--header', 'Subject: Re: Toner', '--body', 'Twelve.'], { timeout: 60_000 });
    assert.match(stdout, /<- {2}250 Recorded/);
    const reply = (await eventsOf(t, ticketId, scId)).at(-1)!;
    assert.equal(reply.via, 'email');
    assert.equal(reply.message?.body, 'Twelve.');
    assert.deepEqual(reply.actor, { user_id: null, name: 'Vendor Person', email: 'vendor@example.com' });

    const refused = await exec('swaks', [...base, '--to', `reply+${'0'.repeat(32)}@${INBOUND_DOMAIN}`, '--body', 'Hello?'], { timeout: 60_000 }).then(
      () => null,
      (error: { code?: unknown; stdout?: string }) => error,
    );
    assert.ok(refused && typeof refused.code === 'number' && refused.code !== 0, 'swaks exits non-zero on a refused recipient');
    assert.match(refused.stdout ?? '', /RCPT TO:<reply\+0{32}@inbound\.test>\r?\n<\*\* 550 .*no such side conversation/);
  });
});
