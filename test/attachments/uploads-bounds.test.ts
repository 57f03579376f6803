/**
 * Uploads (issues 10 and 11): a quota per account, unbound uploads swept after 24 h, a long file
 * name that still downloads, the upload's own URL after binding, and a Content-Disposition that
 * agrees with `inline`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countRows, startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';
import { expectStatus, multipartFile, pathOf } from '../helpers/api.js';
import type { Upload, WriteBody } from '../helpers/api-types.js';
import { createAttachmentsService } from '../../src/attachments/service.js';
import { DatabaseBlobStore } from '../../src/attachments/storage.js';
import { png } from '../helpers/png.js';

describe(`upload bounds and URLs (${STORE_KIND})`, () => {
  let t: TestApp;
  let quota: TestApp;
  let quotaOther: Awaited<ReturnType<TestApp['createAccount']>>;
  let boundOther: Awaited<ReturnType<TestApp['createAccount']>>;

  before(async () => {
    t = await startTestApp();
    quota = await startTestApp({ attachmentQuotaBytes: 10_000 });
    // Accounts exist before the first request, so the host → account map knows them.
    quotaOther = await quota.createAccount('quotaother');
    boundOther = await t.createAccount('boundother');
  });
  after(async () => {
    await t?.close();
    await quota?.close();
  });

  async function upload(app: TestApp, name: string, bytes: Buffer) {
    return app.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', ...multipartFile(name, 'application/octet-stream', bytes) });
  }

  it('refuses an upload over the account quota with 413 and a message that says so, storing nothing', async () => {
    expectStatus(await upload(quota, 'a.txt', Buffer.alloc(6_000, 'a')), 201);
    const before = await countRows(quota.db, 'attachments');
    const refused = await upload(quota, 'b.txt', Buffer.alloc(6_000, 'b'));
    expectStatus(refused, 413);
    const body = refused.json<{ error: string; description: string }>();
    assert.equal(body.error, 'PayloadTooLarge');
    assert.match(body.description, /quota is 10000 bytes \(ATTACHMENT_QUOTA_BYTES\); 6000 bytes are stored/);
    assert.equal(await countRows(quota.db, 'attachments'), before);
    expectStatus(await upload(quota, 'c.txt', Buffer.alloc(3_000, 'c')), 201);
    // Another account has its own quota.
    const file = multipartFile('d.txt', 'text/plain', Buffer.alloc(6_000, 'd'));
    const theirs = await quota.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', auth: quotaOther.admin.auth, headers: { host: 'quotaother.example.com', ...file.headers }, payload: file.payload });
    expectStatus(theirs, 201);
  });

  it('sweeps unbound uploads older than 24 h, rows and bytes, and keeps bound and recent ones', async () => {
    const old = (await upload(t, 'old.txt', Buffer.from('old'))).json<Upload>();
    const recent = (await upload(t, 'recent.txt', Buffer.from('recent'))).json<Upload>();
    const boundUp = (await upload(t, 'bound.txt', Buffer.from('bound'))).json<Upload>();
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Sweep', comment: { body: 'x' } } } });
    const ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    expectStatus(await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations`, payload: { message: { subject: 's', body: 'b', to: [{ email: 'v@example.com' }], attachment_ids: [boundUp.id] } } }), 201);
    const dayAgo = new Date(Date.now() - 25 * 3600_000);
    await t.db.updateTable('attachments').set({ created_at: dayAgo }).where('id', 'in', [old.id, boundUp.id]).execute();
    const oldKey = (await t.db.selectFrom('attachments').select('storage_key').where('id', '=', old.id).executeTakeFirstOrThrow()).storage_key;

    const blobs = new DatabaseBlobStore(t.db);
    const service = createAttachmentsService({ db: t.db, blobs });
    assert.equal(await service.sweepUnbound(new Date(Date.now() - 24 * 3600_000)), 1);
    const left = await t.db.selectFrom('attachments').select('id').where('id', 'in', [old.id, recent.id, boundUp.id]).execute();
    assert.deepEqual(left.map((r) => r.id).sort(), [recent.id, boundUp.id].sort());
    assert.equal(await blobs.get(oldKey), null, 'the bytes went with the row');
    expectStatus(await t.request({ method: 'GET', url: pathOf(old.content_url) }), 404);
  });

  it('a 240-character file name downloads through its own content_url', async () => {
    const name = `${'n'.repeat(236)}.txt`;
    const up = await upload(t, name, Buffer.from('long name'));
    expectStatus(up, 201);
    const body = up.json<Upload>();
    assert.equal(body.file_name, name);
    const res = await t.request({ method: 'GET', url: pathOf(body.content_url) });
    expectStatus(res, 200);
    assert.equal(res.body, 'long name');
    const wide = await upload(t, `${'é'.repeat(200)}.txt`, Buffer.from('wide'));
    expectStatus(await t.request({ method: 'GET', url: pathOf(wide.json<Upload>().content_url) }), 200);
  });

  it("the upload's content_url still leads to the file once bound: a 302 to the message's URL, which serves the same bytes", async () => {
    const bytes = Buffer.from('kept link');
    const up = (await upload(t, 'kept.txt', bytes)).json<Upload>();
    const ticket = await t.request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Bound', comment: { body: 'x' } } } });
    const ticketId = ticket.json<{ ticket: { id: number } }>().ticket.id;
    const created = await t.request({ method: 'POST', url: `/api/v2/tickets/${ticketId}/side_conversations`, payload: { message: { subject: 's', body: 'b', to: [{ email: 'v@example.com' }], attachment_ids: [up.id] } } });
    expectStatus(created, 201);
    const boundUrl = created.json<WriteBody>().event!.message!.attachments[0]!.content_url;
    assert.notEqual(boundUrl, up.content_url);

    const res = await t.request({ method: 'GET', url: pathOf(up.content_url) });
    expectStatus(res, 302);
    assert.equal(res.headers.location, boundUrl);
    const followed = await t.request({ method: 'GET', url: pathOf(boundUrl) });
    expectStatus(followed, 200);
    assert.deepEqual(followed.rawPayload, bytes);
    // Still only for the account's agents: another account's admin gets a 404, not a redirect.
    const foreign = await t.request({ method: 'GET', url: pathOf(up.content_url), auth: boundOther.admin.auth, headers: { host: 'boundother.example.com' } });
    expectStatus(foreign, 404);
  });

  it('Content-Disposition agrees with inline: false, even for an image', async () => {
    const up = await upload(t, 'pixel.png', png());
    expectStatus(up, 201);
    const body = up.json<Upload>();
    assert.equal(body.content_type, 'image/png');
    assert.equal(body.inline, false);
    const res = await t.request({ method: 'GET', url: pathOf(body.content_url) });
    expectStatus(res, 200);
    assert.match(String(res.headers['content-disposition']), /^attachment; filename="pixel\.png"/);
  });
});
