/**
 * Attachments (upload, binding to Create and Reply, download, limits, storage) and child-ticket
 * side conversations in both directions. See API-NOTES.md (Attachments, Errors, Reply, Events).
 *
 * Multipart bodies are built by hand here so the tests control every byte a client sends.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { deflateSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { fileTypeFromBuffer } from 'file-type';
import { countRows, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';
import { eventsOf, expectStatus, multipart, pathOf, showSc } from '../helpers/api.js';
import type { ErrorBody, EventListBody, Upload, WriteBody } from '../helpers/api-types.js';

// ---------------------------------------------------------------------------------------------
// Response shapes (only what the tests read; the shared ones in helpers/api-types.ts)
// ---------------------------------------------------------------------------------------------

interface Ticket {
  id: number;
  status: string;
  group_id: number | null;
  assignee_id: number | null;
  via: { channel: string };
  subject: string;
}

interface Comment {
  id: number;
  author_id: number;
  body: string;
  html_body: string;
  via: { channel: string };
}

// ---------------------------------------------------------------------------------------------
// Test data
// ---------------------------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/** A valid RGBA PNG of the given size (every row: filter byte 0, then red pixels). */
function makePng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [255, 0, 0, 255]).flat())]);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Random bytes no sniffer recognises (regenerated in the unlikely case they look like a format). */
async function randomBinary(size: number): Promise<Buffer> {
  for (;;) {
    const bytes = randomBytes(size);
    bytes[0] = 0x00; // never valid UTF-8 text that starts a known signature by chance
    if (!(await fileTypeFromBuffer(bytes))) return bytes;
  }
}

const UPLOAD_URL = '/api/v2/tickets/side_conversations/attachments';

// ---------------------------------------------------------------------------------------------
// Shared helpers over one app
// ---------------------------------------------------------------------------------------------

function helpers(get: () => TestApp) {
  async function upload(
    content: Buffer,
    fileName = 'file.bin',
    contentType = 'application/octet-stream',
    extra: { auth?: string; host?: string } = {},
  ): Promise<LightMyRequestResponse> {
    const body = multipart([{ name: 'file', filename: fileName, contentType, content }]);
    return get().request({
      method: 'POST',
      url: UPLOAD_URL,
      payload: body.payload,
      headers: { ...body.headers, ...(extra.host ? { host: extra.host } : {}) },
      ...(extra.auth ? { auth: extra.auth } : {}),
    });
  }

  async function uploadOk(content: Buffer, fileName?: string, contentType?: string): Promise<Upload> {
    const res = await upload(content, fileName, contentType);
    expectStatus(res, 201);
    return res.json<Upload>();
  }

  async function newTicket(): Promise<number> {
    const res = await get().request({ method: 'POST', url: '/api/v2/tickets', payload: { ticket: { subject: 'Broken part', comment: { body: 'Help' } } } });
    expectStatus(res, 201);
    return res.json<{ ticket: { id: number } }>().ticket.id;
  }

  function createSc(ticketId: number, message: Record<string, unknown>): Promise<LightMyRequestResponse> {
    return get().request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Parts', body: 'See attached', to: [{ email: 'vendor@example.com' }], ...message } },
    });
  }

  function reply(ticketId: number, scId: string, message: Record<string, unknown>, auth?: string): Promise<LightMyRequestResponse> {
    return get().request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/reply`,
      payload: { message },
      ...(auth ? { auth } : {}),
    });
  }

  async function counts(): Promise<Record<string, number>> {
    const db = get().db;
    return {
      attachments: await countRows(db, 'attachments'),
      side_conversations: await countRows(db, 'side_conversations'),
      side_conversation_events: await countRows(db, 'side_conversation_events'),
      side_conversation_participants: await countRows(db, 'side_conversation_participants'),
      outbox: await countRows(db, 'outbox'),
      tickets: await countRows(db, 'tickets'),
      ticket_comments: await countRows(db, 'ticket_comments'),
    };
  }

  async function attachmentRow(id: string) {
    return get().db.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  }

  return { upload, uploadOk, newTicket, createSc, reply, counts, attachmentRow };
}

const MESSAGE_ATTACHMENT_KEYS = ['content_type', 'content_url', 'file_name', 'height', 'id', 'inline', 'size', 'width'];

// ---------------------------------------------------------------------------------------------
// Upload, binding, download
// ---------------------------------------------------------------------------------------------

describe(`attachments (${STORE_KIND})`, () => {
  let t: TestApp;
  let agent: TestUser;
  let endUser: TestUser;
  let acme: { accountId: number; admin: TestUser };
  const acmeHost = 'acme.localhost';
  const h = helpers(() => t);

  before(async () => {
    t = await startTestApp();
    // Accounts are created before the first request: the app caches the account list briefly.
    acme = await t.createAccount('acme');
    agent = await t.createUser('agent', 'Agent Smith');
    endUser = await t.createUser('end-user', 'Eve User');
  });
  after(async () => t.close());

  it('uploads a PNG: 201 with the bare object, type and size sniffed from the bytes, not the claim', async () => {
    const png = makePng(3, 2);
    const res = await h.upload(png, 'pixel.png', 'text/html');
    expectStatus(res, 201);
    const body = res.json<Upload>();
    assert.deepEqual(Object.keys(body).sort(), ['content_type', 'content_url', 'file_name', 'height', 'id', 'inline', 'name', 'size', 'width']);
    assert.match(body.id, /^[0-9a-f-]{36}$/);
    assert.equal(body.name, 'pixel.png');
    assert.equal(body.file_name, 'pixel.png');
    assert.equal(body.content_type, 'image/png');
    assert.equal(body.size, png.length);
    assert.equal(body.width, 3);
    assert.equal(body.height, 2);
    assert.equal(body.inline, false);
    assert.ok(body.content_url.includes(body.id), body.content_url);

    // The known-good 16x8 PNG from the notes, too.
    const known = Buffer.from(
      '89504e470d0a1a0a0000000d49484452000000100000000808060000001ff3ff61000000017352474200aece1ce90000001049444154789c636000020000050001e226059b0000000049454e44ae426082',
      'hex',
    );
    const second = await h.uploadOk(known, 'known.png', 'application/octet-stream');
    assert.equal(second.content_type, 'image/png');
    assert.equal(second.width, 16);
    assert.equal(second.height, 8);
  });

  it('uploads random bytes as application/octet-stream without dimensions', async () => {
    const bytes = await randomBinary(70_000);
    const body = await h.uploadOk(bytes, 'blob.bin', 'image/png');
    assert.equal(body.content_type, 'application/octet-stream');
    assert.equal(body.width, null);
    assert.equal(body.height, null);
    assert.equal(body.size, 70_000);
  });

  it('HTML claimed as an image is not served as HTML or an image', async () => {
    const body = await h.uploadOk(Buffer.from('<html><script>alert(1)</script></html>'), 'evil.png', 'image/png');
    assert.notEqual(body.content_type, 'text/html');
    assert.ok(!body.content_type.startsWith('image/'), body.content_type);
    assert.equal(body.width, null);
  });

  it('keeps only the last segment of a path-like file name', async () => {
    const body = await h.uploadOk(Buffer.from('root:x:0:0'), '../../etc/passwd', 'text/plain');
    assert.equal(body.file_name, 'passwd');
    assert.equal(body.name, 'passwd');
    const windows = await h.uploadOk(Buffer.from('x'), '..\\..\\boot.ini', 'text/plain');
    assert.equal(windows.file_name, 'boot.ini');
  });

  it('a file name with CR/LF or other control characters is stored without them', async () => {
    for (const raw of ['a\r\nb.txt', 'a\u0001\tb.txt']) {
      const body = multipart([{ name: 'file', filename: raw, contentType: 'text/plain', content: 'hello' }]);
      const res = await t.request({ method: 'POST', url: UPLOAD_URL, payload: body.payload, headers: body.headers });
      expectStatus(res, 201);
      const up = res.json<Upload>();
      for (const name of [up.file_name, up.name, (await h.attachmentRow(up.id)).file_name]) {
        assert.ok(name.length > 0);
        assert.ok(!/[\u0000-\u001f\u007f]/.test(name), `${JSON.stringify(raw)} → ${JSON.stringify(name)}`);
      }
      // And the headers of its download are well formed.
      const download = await t.request({ method: 'GET', url: pathOf(up.content_url) });
      expectStatus(download, 200);
      assert.equal(download.body, 'hello');
      assert.ok(!/[\r\n]/.test(String(download.headers['content-disposition'])));
    }
    // The control characters go, the rest of the name stays.
    const tab = multipart([{ name: 'file', filename: 'a\u0001\tb.txt', contentType: 'text/plain', content: 'x' }]);
    const res = await t.request({ method: 'POST', url: UPLOAD_URL, payload: tab.payload, headers: tab.headers });
    expectStatus(res, 201);
    assert.equal(res.json<Upload>().file_name, 'ab.txt');
  });

  it('a file name that is empty or only markup characters still gets a safe name', async () => {
    const empty = await h.uploadOk(Buffer.from('x'), '', 'text/plain');
    assert.ok(empty.file_name.length > 0);
    const markup = await h.uploadOk(Buffer.from('x'), '<script>.txt', 'text/plain');
    assert.ok(!markup.file_name.includes('<') && !markup.file_name.includes('>'), markup.file_name);
  });

  it('binds an upload to a Create and serves the same bytes from its content_url', async () => {
    const bytes = await randomBinary(70_000);
    const up = await h.uploadOk(bytes, 'blob.bin');
    const ticketId = await h.newTicket();
    const res = await h.createSc(ticketId, { attachment_ids: [up.id] });
    expectStatus(res, 201);
    const out = res.json<WriteBody>();
    const scId = out.side_conversation.id;
    const attachments = out.event?.message?.attachments ?? [];
    assert.equal(attachments.length, 1);
    const a = attachments[0]!;
    assert.deepEqual(Object.keys(a).sort(), MESSAGE_ATTACHMENT_KEYS);
    assert.equal(a.id, up.id);
    assert.equal(a.file_name, 'blob.bin');
    assert.equal(a.content_type, 'application/octet-stream');
    assert.equal(a.size, 70_000);
    assert.equal(a.width, null);
    assert.equal(a.height, null);
    assert.equal(a.inline, false);
    const expectedPath = `/api/v2/tickets/${ticketId}/side_conversations/${scId}/attachments/${up.id}/download/blob.bin`;
    assert.equal(new URL(a.content_url, 'http://localhost').pathname, expectedPath);
    assert.ok(a.content_url.endsWith(expectedPath), a.content_url);

    // The events list shows it too.
    const events = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/events` });
    expectStatus(events, 200);
    assert.deepEqual(events.json<EventListBody>().events[0]!.message?.attachments, [a]);

    const download = await t.request({ method: 'GET', url: expectedPath });
    expectStatus(download, 200);
    assert.equal(Buffer.compare(download.rawPayload, bytes), 0, 'same bytes');
    assert.equal(download.headers['content-type'], 'application/octet-stream');
    assert.match(String(download.headers['content-disposition']), /^attachment; filename="?blob\.bin"?/);
    assert.equal(download.headers['x-content-type-options'], 'nosniff');

    // Agents may download too.
    const asAgent = await t.request({ method: 'GET', url: expectedPath, auth: agent.auth });
    expectStatus(asAgent, 200);
    assert.equal(Buffer.compare(asAgent.rawPayload, bytes), 0);

    // Once bound, the upload's own URL redirects to the message's (issue 11; test/attachments/uploads-bounds.test.ts).
    const unbound = await t.request({ method: 'GET', url: pathOf(up.content_url) });
    expectStatus(unbound, 302);
    assert.equal(pathOf(String(unbound.headers.location)), expectedPath);
  });

  it('an unbound upload can be fetched back through its own content_url', async () => {
    const bytes = await randomBinary(4_000);
    const up = await h.uploadOk(bytes, 'draft.bin');
    const res = await t.request({ method: 'GET', url: pathOf(up.content_url) });
    expectStatus(res, 200);
    assert.equal(Buffer.compare(res.rawPayload, bytes), 0);
    const anonymous = await t.request({ method: 'GET', url: pathOf(up.content_url), auth: null });
    expectStatus(anonymous, 401);
    const foreign = await t.request({ method: 'GET', url: pathOf(up.content_url), auth: acme.admin.auth, headers: { host: acmeHost } });
    expectStatus(foreign, 404);
  });

  it('binds an image to a Reply; it is listed on the reply event and served inline', async () => {
    const ticketId = await h.newTicket();
    const created = await h.createSc(ticketId, {});
    expectStatus(created, 201);
    const scId = created.json<WriteBody>().side_conversation.id;
    const png = makePng(3, 2);
    const up = await h.uploadOk(png, 'shot.png', 'image/png');

    const res = await h.reply(ticketId, scId, { body: 'Screenshot attached', attachment_ids: [up.id] }, agent.auth);
    expectStatus(res, 200);
    const event = res.json<WriteBody>().event;
    assert.equal(event?.type, 'reply');
    const a = event?.message?.attachments[0];
    assert.ok(a);
    assert.equal(event.message?.attachments.length, 1);
    assert.deepEqual(Object.keys(a).sort(), MESSAGE_ATTACHMENT_KEYS);
    assert.equal(a.id, up.id);
    assert.equal(a.content_type, 'image/png');
    assert.equal(a.width, 3);
    assert.equal(a.height, 2);
    const expectedPath = `/api/v2/tickets/${ticketId}/side_conversations/${scId}/attachments/${up.id}/download/shot.png`;
    assert.equal(new URL(a.content_url, 'http://localhost').pathname, expectedPath);

    const events = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/events` });
    const list = events.json<EventListBody>().events;
    assert.deepEqual(list.map((e) => e.message?.attachments.length), [0, 1]);
    assert.deepEqual(list[1]!.message?.attachments[0], a);

    const download = await t.request({ method: 'GET', url: expectedPath });
    expectStatus(download, 200);
    assert.equal(Buffer.compare(download.rawPayload, png), 0);
    assert.equal(download.headers['content-type'], 'image/png');
    assert.equal(download.headers['x-content-type-options'], 'nosniff');
    assert.match(String(download.headers['content-disposition']), /filename="?shot\.png"?/);
  });

  it('refuses unknown, foreign and already bound attachment ids with a 422 and writes nothing', async () => {
    const ticketId = await h.newTicket();
    const mine = await h.uploadOk(await randomBinary(1_000), 'mine.bin');
    const created = await h.createSc(ticketId, { attachment_ids: [mine.id] });
    expectStatus(created, 201);
    const scId = created.json<WriteBody>().side_conversation.id;
    const boundRowBefore = await h.attachmentRow(mine.id);

    const foreignRes = await h.upload(await randomBinary(1_000), 'acme.bin', 'application/octet-stream', { auth: acme.admin.auth, host: acmeHost });
    expectStatus(foreignRes, 201);
    const foreign = foreignRes.json<Upload>();
    const fresh = await h.uploadOk(await randomBinary(1_000), 'fresh.bin');

    const before = await h.counts();
    const bad: Array<{ label: string; ids: string[] }> = [
      { label: 'unknown', ids: [randomUUID()] },
      { label: 'not a uuid', ids: ['not-an-id'] },
      { label: 'another account', ids: [foreign.id] },
      { label: 'already bound', ids: [mine.id] },
      { label: 'a good one beside a bad one', ids: [fresh.id, randomUUID()] },
    ];
    for (const { label, ids } of bad) {
      const onCreate = await h.createSc(ticketId, { attachment_ids: ids });
      expectStatus(onCreate, 422);
      assert.equal(onCreate.json<ErrorBody>().error, 'RecordInvalid', label);
      assert.ok(onCreate.json<ErrorBody>().details?.['message.attachment_ids'], `${label}: ${onCreate.body}`);

      const onReply = await h.reply(ticketId, scId, { body: 'With a file', attachment_ids: ids });
      expectStatus(onReply, 422);
      assert.equal(onReply.json<ErrorBody>().error, 'RecordInvalid', label);
      assert.ok(onReply.json<ErrorBody>().details?.['message.attachment_ids'], `${label}: ${onReply.body}`);
    }
    assert.deepEqual(await h.counts(), before);

    // The refused ids are where they were: the foreign and the fresh one still unbound, the bound one
    // still on its first message.
    assert.equal((await h.attachmentRow(foreign.id)).event_id, null);
    assert.equal((await h.attachmentRow(fresh.id)).event_id, null);
    const boundRowAfter = await h.attachmentRow(mine.id);
    assert.equal(boundRowAfter.event_id, boundRowBefore.event_id);
    assert.equal(boundRowAfter.side_conversation_id, scId);

    // The fresh one can still be used.
    const ok = await h.reply(ticketId, scId, { body: 'Now with a file', attachment_ids: [fresh.id] });
    expectStatus(ok, 200);
    assert.deepEqual(ok.json<WriteBody>().event?.message?.attachments.map((a) => a.id), [fresh.id]);
  });

  it('one upload raced onto several messages is bound to exactly one of them', async () => {
    const ticketId = await h.newTicket();
    const created = await h.createSc(ticketId, {});
    expectStatus(created, 201);
    const scId = created.json<WriteBody>().side_conversation.id;
    const up = await h.uploadOk(await randomBinary(1_000), 'race.bin');
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) => h.reply(ticketId, scId, { body: `Racer ${i}`, attachment_ids: [up.id] })),
    );
    const statuses = results.map((r) => r.statusCode).sort();
    assert.deepEqual(statuses, [200, 422, 422, 422], results.map((r) => r.body).join('\n'));
    const winner = results.find((r) => r.statusCode === 200)!.json<WriteBody>().event!;
    assert.deepEqual(winner.message?.attachments.map((a) => a.id), [up.id]);
    assert.equal((await h.attachmentRow(up.id)).event_id, winner.id);
    const list = (await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/side_conversations/${scId}/events` })).json<EventListBody>().events;
    assert.equal(list.length, 2, 'create and the one accepted reply');
    assert.equal(list.filter((e) => (e.message?.attachments.length ?? 0) > 0).length, 1);
  });

  it('download: 401 without auth, 403 for end-users, 404 for another account and for the wrong path', async () => {
    const bytes = await randomBinary(2_000);
    const up = await h.uploadOk(bytes, 'secret.bin');
    const ticketId = await h.newTicket();
    const created = await h.createSc(ticketId, { attachment_ids: [up.id] });
    expectStatus(created, 201);
    const scId = created.json<WriteBody>().side_conversation.id;
    const other = await h.createSc(ticketId, {});
    expectStatus(other, 201);
    const otherScId = other.json<WriteBody>().side_conversation.id;
    const otherTicketId = await h.newTicket();
    const otherTicketSc = await h.createSc(otherTicketId, {});
    expectStatus(otherTicketSc, 201);
    const otherTicketScId = otherTicketSc.json<WriteBody>().side_conversation.id;
    const path = `/api/v2/tickets/${ticketId}/side_conversations/${scId}/attachments/${up.id}/download/secret.bin`;

    const anonymous = await t.request({ method: 'GET', url: path, auth: null });
    expectStatus(anonymous, 401);
    assert.deepEqual(anonymous.json(), { error: "Couldn't authenticate you" });

    const user = await t.request({ method: 'GET', url: path, auth: endUser.auth });
    expectStatus(user, 403);
    assert.equal(user.json<{ error: { title: string } }>().error.title, 'Forbidden');

    const foreign = await t.request({ method: 'GET', url: path, auth: acme.admin.auth, headers: { host: acmeHost } });
    expectStatus(foreign, 404);
    assert.equal(foreign.json<ErrorBody>().error, 'RecordNotFound');

    const wrongPaths = [
      `/api/v2/tickets/${ticketId}/side_conversations/${otherScId}/attachments/${up.id}/download/secret.bin`,
      `/api/v2/tickets/${otherTicketId}/side_conversations/${scId}/attachments/${up.id}/download/secret.bin`,
      `/api/v2/tickets/${otherTicketId}/side_conversations/${otherTicketScId}/attachments/${up.id}/download/secret.bin`,
      `/api/v2/tickets/${ticketId}/side_conversations/${scId}/attachments/${randomUUID()}/download/secret.bin`,
    ];
    for (const wrong of wrongPaths) {
      const res = await t.request({ method: 'GET', url: wrong });
      expectStatus(res, 404);
      assert.equal(res.json<ErrorBody>().error, 'RecordNotFound', wrong);
    }

    const ok = await t.request({ method: 'GET', url: path });
    expectStatus(ok, 200);
    assert.equal(Buffer.compare(ok.rawPayload, bytes), 0);
  });

  it('an upload without a file field is a 422, a JSON body a 4xx, and neither stores anything', async () => {
    const before = await countRows(t.db, 'attachments');
    const noFile = multipart([{ name: 'note', content: 'just a field' }]);
    const res = await t.request({ method: 'POST', url: UPLOAD_URL, payload: noFile.payload, headers: noFile.headers });
    expectStatus(res, 422);
    assert.equal(res.json<ErrorBody>().error, 'RecordInvalid');
    assert.ok(res.json<ErrorBody>().details?.['file'], res.body);

    const wrongField = multipart([{ name: 'upload', filename: 'x.txt', contentType: 'text/plain', content: 'x' }]);
    const wrong = await t.request({ method: 'POST', url: UPLOAD_URL, payload: wrongField.payload, headers: wrongField.headers });
    expectStatus(wrong, 422);

    const json = await t.request({ method: 'POST', url: UPLOAD_URL, payload: { file: 'aGVsbG8=' } });
    assert.ok(json.statusCode >= 400 && json.statusCode < 500, `${json.statusCode}: ${json.body}`);
    assert.equal(typeof json.json<ErrorBody>().error, 'string');
    assert.equal(await countRows(t.db, 'attachments'), before);

    // Two file parts: the first is taken, or the request is refused; never a 500.
    const twoFiles = multipart([
      { name: 'file', filename: 'one.txt', contentType: 'text/plain', content: 'one' },
      { name: 'file', filename: 'two.txt', contentType: 'text/plain', content: 'two' },
    ]);
    const two = await t.request({ method: 'POST', url: UPLOAD_URL, payload: twoFiles.payload, headers: twoFiles.headers });
    assert.ok(two.statusCode === 201 || (two.statusCode >= 400 && two.statusCode < 500), `${two.statusCode}: ${two.body}`);
    if (two.statusCode === 201) assert.equal(two.json<Upload>().file_name, 'one.txt');
    const afterTwo = await countRows(t.db, 'attachments');
    assert.equal(afterTwo, two.statusCode === 201 ? before + 1 : before);

    const anonymous = await h.upload(Buffer.from('x'), 'x.txt', 'text/plain', { auth: 'Basic bm9ib2R5Om5vdGhpbmc=' });
    expectStatus(anonymous, 401);
    const user = await h.upload(Buffer.from('x'), 'x.txt', 'text/plain', { auth: endUser.auth });
    expectStatus(user, 403);

    assert.equal(await countRows(t.db, 'attachments'), afterTwo);
  });

  it('a malformed multipart body is a 4xx with a Zendesk error body, never a 500', async () => {
    const before = await countRows(t.db, 'attachments');
    const cases: Array<{ label: string; contentType: string; payload: string }> = [
      {
        label: 'truncated (no closing boundary)',
        contentType: 'multipart/form-data; boundary=XYZ',
        payload: '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello',
      },
      {
        label: 'no boundary parameter',
        contentType: 'multipart/form-data',
        payload: '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello\r\n--XYZ--\r\n',
      },
      { label: 'not multipart at all', contentType: 'multipart/form-data; boundary=XYZ', payload: 'garbage garbage' },
    ];
    for (const c of cases) {
      const res = await t.request({ method: 'POST', url: UPLOAD_URL, headers: { 'content-type': c.contentType }, payload: c.payload });
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${c.label}: ${res.statusCode} ${res.body}`);
      assert.equal(typeof res.json<ErrorBody>().error, 'string', c.label);
    }
    assert.equal(await countRows(t.db, 'attachments'), before);
  });
});

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

describe(`attachment size limit (${STORE_KIND})`, () => {
  let t: TestApp;
  const h = helpers(() => t);
  before(async () => {
    t = await startTestApp({ attachmentMaxBytes: 1024 });
  });
  after(async () => t.close());

  it('refuses a file over the limit with 413 PayloadTooLarge and stores nothing', async () => {
    const res = await h.upload(await randomBinary(5_000), 'big.bin');
    expectStatus(res, 413);
    const body = res.json<ErrorBody>();
    assert.equal(body.error, 'PayloadTooLarge');
    assert.equal(typeof body.description, 'string');
    assert.equal(await countRows(t.db, 'attachments'), 0);
    assert.equal(await countRows(t.db, 'attachment_blobs'), 0);
  });

  it('accepts a file under the limit', async () => {
    const bytes = await randomBinary(500);
    const up = await h.uploadOk(bytes, 'small.bin');
    assert.equal(up.size, 500);
    assert.equal(await countRows(t.db, 'attachments'), 1);
  });

  it('a file of exactly the limit is accepted, one byte more is refused', async () => {
    const exact = await h.upload(await randomBinary(1024), 'exact.bin');
    expectStatus(exact, 201);
    const over = await h.upload(await randomBinary(1025), 'over.bin');
    expectStatus(over, 413);
    assert.equal(over.json<ErrorBody>().error, 'PayloadTooLarge');
  });
});

// ---------------------------------------------------------------------------------------------
// Disk storage
// ---------------------------------------------------------------------------------------------

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else out.push(full);
  }
  return out;
}

describe(`attachments on disk (${STORE_KIND})`, () => {
  let t: TestApp;
  let dir: string;
  const h = helpers(() => t);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sideline-blobs-'));
    t = await startTestApp({ attachmentStore: 'disk', dataDir: dir });
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores the bytes under the directory, under a name of its own, and serves them back', async () => {
    const bytes = await randomBinary(70_000);
    const clientName = 'quarterly-report-secret.bin';
    const up = await h.uploadOk(bytes, `../../${clientName}`);
    assert.equal(up.file_name, clientName);

    const files = await filesUnder(dir);
    assert.equal(files.length, 1, files.join(', '));
    const stored = files[0]!;
    const rel = relative(dir, stored);
    assert.ok(!rel.startsWith('..') && !rel.startsWith(sep), rel);
    assert.ok(!rel.includes('quarterly') && !rel.includes('secret') && !rel.includes('.bin'), rel);
    assert.equal(Buffer.compare(await readFile(stored), bytes), 0);
    assert.equal((await stat(stored)).size, 70_000);
    assert.equal(await countRows(t.db, 'attachment_blobs'), 0, 'nothing in the database blob table');

    const ticketId = await h.newTicket();
    const created = await h.createSc(ticketId, { attachment_ids: [up.id] });
    expectStatus(created, 201);
    const a = created.json<WriteBody>().event?.message?.attachments[0];
    assert.ok(a);
    const download = await t.request({ method: 'GET', url: pathOf(a.content_url) });
    expectStatus(download, 200);
    assert.equal(Buffer.compare(download.rawPayload, bytes), 0);
    assert.equal(download.headers['content-type'], 'application/octet-stream');

    // Nothing was written next to the directory either.
    const siblings = await readdir(join(dir, '..'));
    assert.ok(!siblings.includes(clientName));
  });
});

// ---------------------------------------------------------------------------------------------
// Child tickets
// ---------------------------------------------------------------------------------------------

describe(`child-ticket side conversations (${STORE_KIND})`, () => {
  let t: TestApp;
  let agent: TestUser;
  let groupId: number;
  const h = helpers(() => t);

  before(async () => {
    t = await startTestApp();
    agent = await t.createUser('agent', 'Tier Two');
    const group = await t.request({ method: 'POST', url: '/api/v2/groups', payload: { group: { name: 'Tier 2' } } });
    expectStatus(group, 201);
    groupId = group.json<{ group: { id: number } }>().group.id;
    const membership = await t.request({
      method: 'POST',
      url: '/api/v2/group_memberships',
      payload: { group_membership: { user_id: agent.id, group_id: groupId } },
    });
    expectStatus(membership, 201);
  });
  after(async () => t.close());

  async function childConversation(body = 'First message'): Promise<{ ticketId: number; scId: string; childId: number; created: WriteBody }> {
    const ticketId = await h.newTicket();
    const res = await t.request({
      method: 'POST',
      url: `/api/v2/tickets/${ticketId}/side_conversations`,
      payload: { message: { subject: 'Need tier 2', body, to: [{ support_group_id: groupId, support_agent_id: agent.id }] } },
    });
    expectStatus(res, 201);
    const created = res.json<WriteBody>();
    const childId = Number(created.side_conversation.external_ids['targetTicketId']);
    assert.ok(Number.isSafeInteger(childId) && childId > 0, JSON.stringify(created.side_conversation.external_ids));
    return { ticketId, scId: created.side_conversation.id, childId, created };
  }

  async function comments(ticketId: number): Promise<Comment[]> {
    const res = await t.request({ method: 'GET', url: `/api/v2/tickets/${ticketId}/comments` });
    expectStatus(res, 200);
    return res.json<{ comments: Comment[] }>().comments;
  }

  function updateChild(childId: number, ticket: Record<string, unknown>, auth?: string): Promise<LightMyRequestResponse> {
    return t.request({ method: 'PUT', url: `/api/v2/tickets/${childId}`, payload: { ticket }, ...(auth ? { auth } : {}) });
  }

  it('creates the child ticket in the group, assigned to the agent, with the first message', async () => {
    const { childId, created } = await childConversation();
    assert.deepEqual(created.side_conversation.participants.find((p) => p.support_group_id !== undefined), {
      user_id: agent.id,
      name: 'Tier Two',
      email: agent.email,
      support_group_id: groupId,
      support_agent_id: agent.id,
    });
    const res = await t.request({ method: 'GET', url: `/api/v2/tickets/${childId}` });
    expectStatus(res, 200);
    const child = res.json<{ ticket: Ticket }>().ticket;
    assert.equal(child.group_id, groupId);
    assert.equal(child.assignee_id, agent.id);
    assert.equal(child.subject, 'Need tier 2');
    assert.equal(child.via.channel, 'side_conversation');
    const list = await comments(childId);
    assert.deepEqual(list.map((c) => c.body), ['First message']);
  });

  it('both ways, without loops: a reply becomes a child comment and a child comment becomes a reply', async () => {
    const { ticketId, scId, childId } = await childConversation();
    const outboxBefore = await countRows(t.db, 'outbox');

    // (1) A reply on the side conversation is a comment on the child ticket.
    const replied = await h.reply(ticketId, scId, { body: 'Reply from the parent' });
    expectStatus(replied, 200);
    assert.equal(replied.json<WriteBody>().event?.via, 'api');
    const afterReply = await comments(childId);
    assert.deepEqual(afterReply.map((c) => c.body), ['First message', 'Reply from the parent']);
    assert.equal(afterReply[1]!.via.channel, 'side_conversation');
    assert.equal(afterReply[1]!.author_id, t.admin.id);

    // (2) A comment on the child ticket is a reply on the side conversation.
    const childUpdate = await updateChild(childId, { comment: { body: 'From the child' } }, agent.auth);
    expectStatus(childUpdate, 200);
    const list = await eventsOf(t, ticketId, scId);
    const last = list.at(-1)!;
    assert.equal(last.type, 'reply');
    assert.equal(last.via, 'child_ticket');
    assert.deepEqual(last.actor, { user_id: agent.id, name: 'Tier Two', email: agent.email });
    assert.equal(last.message?.body, 'From the child');
    assert.equal(last.message?.subject, null);
    assert.equal(last.message?.from.user_id, agent.id);
    assert.equal(last.side_conversation_id, scId);
    assert.equal(last.ticket_id, ticketId);
    assert.equal((await showSc(t, ticketId, scId)).preview_text, 'From the child');

    // (3) No echo either way.
    const finalComments = await comments(childId);
    assert.deepEqual(finalComments.map((c) => c.body), ['First message', 'Reply from the parent', 'From the child']);
    assert.deepEqual(finalComments.map((c) => c.via.channel), ['side_conversation', 'side_conversation', 'api']);
    assert.deepEqual(list.map((e) => `${e.type}/${e.via}`), ['create/api', 'reply/api', 'reply/child_ticket']);
    assert.deepEqual(list.map((e) => e.message?.body), ['First message', 'Reply from the parent', 'From the child']);
    assert.equal(await countRows(t.db, 'outbox'), outboxBefore, 'child tickets need no relay');

    // The parent ticket itself got no comments from any of this.
    assert.deepEqual((await comments(ticketId)).map((c) => c.body), ['Help']);
  });

  it('solving the child closes the side conversation, reopening it reopens it', async () => {
    const { ticketId, scId, childId } = await childConversation();

    const solved = await updateChild(childId, { status: 'solved' }, agent.auth);
    expectStatus(solved, 200);
    assert.equal(solved.json<{ ticket: Ticket }>().ticket.status, 'solved');
    const closedSc = await showSc(t, ticketId, scId);
    assert.equal(closedSc.state, 'closed');
    let list = await eventsOf(t, ticketId, scId);
    assert.deepEqual(list.map((e) => `${e.type}/${e.via}`), ['create/api', 'update/child_ticket']);
    assert.deepEqual(list[1]!.updates, { state: 'closed' });
    assert.equal(list[1]!.message, null);
    assert.deepEqual(list[1]!.actor, { user_id: agent.id, name: 'Tier Two', email: agent.email });

    const reopened = await updateChild(childId, { status: 'open' }, agent.auth);
    expectStatus(reopened, 200);
    const openSc = await showSc(t, ticketId, scId);
    assert.equal(openSc.state, 'open');
    list = await eventsOf(t, ticketId, scId);
    assert.deepEqual(list.map((e) => `${e.type}/${e.via}`), ['create/api', 'update/child_ticket', 'update/child_ticket']);
    assert.deepEqual(list[2]!.updates, { state: 'open' });

    // A status change that is not solving or reopening (open → pending) records nothing.
    expectStatus(await updateChild(childId, { status: 'pending' }, agent.auth), 200);
    assert.equal((await eventsOf(t, ticketId, scId)).length, 3);
    assert.equal((await showSc(t, ticketId, scId)).state, 'open');
  });

  it('a comment and a solve in one child update give a reply then a close', async () => {
    const { ticketId, scId, childId } = await childConversation();
    const res = await updateChild(childId, { status: 'solved', comment: { body: 'Fixed it' } }, agent.auth);
    expectStatus(res, 200);
    const list = await eventsOf(t, ticketId, scId);
    assert.deepEqual(list.map((e) => `${e.type}/${e.via}`), ['create/api', 'reply/child_ticket', 'update/child_ticket']);
    assert.equal(list[1]!.message?.body, 'Fixed it');
    assert.deepEqual(list[2]!.updates, { state: 'closed' });
    assert.equal((await showSc(t, ticketId, scId)).state, 'closed');
  });

  it('a long child comment of emoji is mirrored with a preview that does not split a character', async () => {
    const { ticketId, scId, childId } = await childConversation();
    const body = '\u{1F525}'.repeat(200);
    const res = await updateChild(childId, { comment: { body } }, agent.auth);
    expectStatus(res, 200);
    const last = (await eventsOf(t, ticketId, scId)).at(-1)!;
    assert.equal(last.via, 'child_ticket');
    assert.equal(last.message?.body, body);
    const preview = last.message?.preview_text ?? '';
    assert.ok(preview.length > 0 && preview.length <= 140);
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(preview));
  });

  it('a reply to a side conversation whose child ticket is closed is a 422 and writes nothing', async () => {
    const { ticketId, scId, childId } = await childConversation();
    const closed = await updateChild(childId, { status: 'closed' }, agent.auth);
    expectStatus(closed, 200);
    assert.equal(closed.json<{ ticket: Ticket }>().ticket.status, 'closed');
    assert.equal((await showSc(t, ticketId, scId)).state, 'closed');

    const before = await h.counts();
    const eventsBefore = await eventsOf(t, ticketId, scId);
    const res = await h.reply(ticketId, scId, { body: 'Anyone there?' });
    expectStatus(res, 422);
    const body = res.json<ErrorBody>();
    assert.equal(body.error, 'RecordInvalid');
    assert.ok(body.details && Object.keys(body.details).length > 0, res.body);
    assert.deepEqual(await h.counts(), before);
    assert.deepEqual(await eventsOf(t, ticketId, scId), eventsBefore);
    assert.equal((await showSc(t, ticketId, scId)).state, 'closed', 'not reopened by the refused reply');
    assert.deepEqual((await comments(childId)).map((c) => c.body), ['First message']);

    // The closed child takes no more updates itself either.
    const again = await updateChild(childId, { comment: { body: 'Late' } }, agent.auth);
    expectStatus(again, 422);
  });
});
