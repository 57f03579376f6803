/**
 * Uploads stream to the blob store (the "Trust" issue): a file is counted, hashed and sniffed on
 * its way to disk, never held whole in memory; one over ATTACHMENT_MAX_BYTES or over what is left
 * of the account's quota is cut off with 413 and leaves no file and no row.
 *
 * The memory check runs `sideline serve` as its own process (ATTACHMENT_STORE=disk on both stores:
 * the database store gathers each file in memory by design, see DatabaseBlobStore) and reads its
 * resident set from /proc, so the client's buffers are not counted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { basic, countRows, createTempDatabase, startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';
import { expectStatus, multipartFile } from '../helpers/api.js';
import type { Upload } from '../helpers/api-types.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { png } from '../helpers/png.js';

const UPLOAD_URL = '/api/v2/tickets/side_conversations/attachments';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else out.push(full);
  }
  return out;
}

describe(`uploads stream to the disk store (${STORE_KIND})`, () => {
  let t: TestApp;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sideline-upload-stream-'));
    t = await startTestApp({ attachmentStore: 'disk', dataDir: dir, attachmentMaxBytes: 1024 * 1024, attachmentQuotaBytes: 3 * 1024 * 1024 });
  });
  after(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const upload = (name: string, bytes: Buffer) => t.request({ method: 'POST', url: UPLOAD_URL, ...multipartFile(name, 'application/octet-stream', bytes) });

  it('a file over ATTACHMENT_MAX_BYTES is 413 and leaves no file (not even a temporary one) and no row', async () => {
    const rows = await countRows(t.db, 'attachments');
    const files = await filesUnder(dir);
    // Just over the limit (its declared length passes the check before reading), and far over it.
    for (const size of [1024 * 1024 + 20_000, 3 * 1024 * 1024]) {
      const refused = await upload('big.bin', randomBytes(size));
      expectStatus(refused, 413);
      assert.deepEqual(refused.json(), { error: 'PayloadTooLarge', description: 'Attachments are limited to 1048576 bytes' });
      assert.equal(await countRows(t.db, 'attachments'), rows);
      assert.deepEqual(await filesUnder(dir), files);
    }
  });

  it('a file over what is left of the quota is cut off with 413 naming the quota, and leaves nothing', async () => {
    for (let i = 0; i < 2; i++) expectStatus(await upload(`part-${i}.bin`, randomBytes(1024 * 1024)), 201);
    const rows = await countRows(t.db, 'attachments');
    const files = await filesUnder(dir);
    assert.equal(files.length, rows, 'one file per row');
    // 2 MiB stored of 3 MiB, and this one is under the size limit (the multipart envelope is not counted).
    const refused = await upload('third.bin', randomBytes(1024 * 1024 - 1000));
    expectStatus(refused, 201);
    // Small enough that its declared length is not checked against the quota before reading: it is cut off while streaming.
    const over = await upload('fourth.bin', randomBytes(30_000));
    expectStatus(over, 413);
    assert.match(over.json<{ description: string }>().description, /quota is 3145728 bytes \(ATTACHMENT_QUOTA_BYTES\); 3144728 bytes are stored, so this upload of more than 1000 bytes does not fit/);
    assert.equal(await countRows(t.db, 'attachments'), rows + 1);
    assert.equal((await filesUnder(dir)).length, rows + 1);
    assert.ok((await filesUnder(dir)).every((f) => !f.endsWith('.tmp')), 'no temporary file left');
  });
});

describe(`uploads: sniffing from the start of a stream (${STORE_KIND})`, () => {
  let t: TestApp;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sideline-upload-sniff-'));
    t = await startTestApp({ attachmentStore: 'disk', dataDir: dir });
  });
  after(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a 2 MiB PNG (trailing bytes after IEND) is image/png with its size; 1 MiB of text is text/plain; the bytes download whole', async () => {
    const image = Buffer.concat([png(), randomBytes(2 * 1024 * 1024)]);
    const res = await t.request({ method: 'POST', url: UPLOAD_URL, ...multipartFile('big.png', 'application/octet-stream', image) });
    expectStatus(res, 201);
    const up = res.json<Upload>();
    assert.equal(up.content_type, 'image/png');
    assert.equal(up.size, image.length);
    assert.deepEqual([up.width, up.height], [1, 1]);
    const back = await t.request({ method: 'GET', url: new URL(up.content_url).pathname });
    expectStatus(back, 200);
    assert.ok(back.rawPayload.equals(image), 'the stored bytes are the uploaded bytes');

    const text = Buffer.from('héllo wörld\n'.repeat(90_000));
    const textRes = await t.request({ method: 'POST', url: UPLOAD_URL, ...multipartFile('notes.txt', 'application/octet-stream', text) });
    expectStatus(textRes, 201);
    assert.equal(textRes.json<Upload>().content_type, 'text/plain');
    assert.equal(textRes.json<Upload>().size, text.length);
  });

  it('the same file with the same Idempotency-Key is one upload: the replay stores no second copy', async () => {
    const bytes = randomBytes(300_000);
    const file = multipartFile('same.bin', 'application/octet-stream', bytes);
    const headers = { ...file.headers, 'idempotency-key': `upload-${randomBytes(4).toString('hex')}` };
    const payload = file.payload;
    const files = (await filesUnder(dir)).length;
    const first = await t.request({ method: 'POST', url: UPLOAD_URL, headers, payload });
    expectStatus(first, 201);
    const again = await t.request({ method: 'POST', url: UPLOAD_URL, headers, payload });
    expectStatus(again, 201);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.json<Upload>().id, first.json<Upload>().id);
    assert.equal((await filesUnder(dir)).length, files + 1, 'the replayed bytes were not kept');
  });
});

/** Resident set of a live process, from /proc/PID/status, in bytes. */
function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, 'VmRSS in /proc/PID/status');
  return Number(match[1]) * 1024;
}

/**
 * POSTs a multipart upload of `size` bytes, written in 64 KiB chunks with backpressure, so the
 * client never holds the file (and the server sees it arrive as a real client would send it).
 */
function streamUpload(port: number, auth: string, fileName: string, size: number): Promise<{ status: number; body: Upload }> {
  const boundary = `----sideline${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const chunk = randomBytes(64 * 1024);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path: UPLOAD_URL, headers: { authorization: auth, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': head.length + size + tail.length } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Upload });
          } catch {
            reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('error', reject);
    void (async () => {
      req.write(head);
      for (let sent = 0; sent < size; sent += chunk.length) {
        if (!req.write(chunk.subarray(0, Math.min(chunk.length, size - sent)))) await new Promise<void>((r) => req.once('drain', () => r()));
      }
      req.end(tail);
    })();
  });
}

describe(`uploads memory (${STORE_KIND}, \`sideline serve\`, ATTACHMENT_STORE=disk)`, () => {
  const UPLOADS = 24;
  const FILE_BYTES = 16 * 1024 * 1024;
  const ADMIN = { email: 'owner@example.com', password: 'a-long-admin-password' };
  const auth = basic(ADMIN.email, ADMIN.password);
  let dir: string;
  let database: { url: string; drop(): Promise<void> } | null = null;
  let server: ServerProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sideline-upload-memory-'));
    database = process.env['DATABASE_URL'] ? await createTempDatabase(process.env['DATABASE_URL'], 'upload_memory') : null;
    server = await startServer({
      DATABASE_URL: database?.url ?? '',
      DATA_DIR: dir,
      ATTACHMENT_STORE: 'disk',
      SIDELINE_ADMIN_EMAIL: ADMIN.email,
      SIDELINE_ADMIN_PASSWORD: ADMIN.password,
    });
  });
  after(async () => {
    await server?.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${UPLOADS} concurrent uploads of 16 MiB each are stored, and the server's memory grows by far less than their total`, async () => {
    assert.equal((await streamUpload(server.port, auth, 'warm.bin', 1000)).status, 201, 'warm-up upload');
    const before = residentBytes(server.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(server.pid))), 20);
    let answers: Array<{ status: number; body: Upload }>;
    try {
      answers = await Promise.all(Array.from({ length: UPLOADS }, (_, i) => streamUpload(server.port, auth, `file-${i}.bin`, FILE_BYTES)));
      peak = Math.max(peak, residentBytes(server.pid));
    } finally {
      clearInterval(sampler);
    }
    assert.deepEqual(answers.map((a) => a.status), Array(UPLOADS).fill(201));
    assert.ok(answers.every((a) => a.body.size === FILE_BYTES));
    const growth = peak - before;
    const total = UPLOADS * FILE_BYTES;
    console.log(`# ${UPLOADS} × 16 MiB uploads: the server's resident set grew by ${(growth / 1048576).toFixed(1)} MiB at its peak (${(total / 1048576).toFixed(0)} MiB uploaded)`);
    // Garbage chunks wait for the collector (V8 lets ~64 MiB of freed buffers pile up), so the bound
    // is a quarter of the total, not a few buffers; held in memory, the files alone would be the total.
    assert.ok(growth < total / 4, `the resident set grew by ${growth} bytes for ${total} bytes uploaded`);
    const stored = (await filesUnder(join(dir, 'attachments'))).filter((f) => !f.endsWith('.tmp'));
    assert.equal(stored.length, UPLOADS + 1);
  });

  it('over real HTTP, a file just over ATTACHMENT_MAX_BYTES is cut off with 413 while streaming and leaves no file', async () => {
    assert.equal((await streamUpload(server.port, auth, 'before.bin', 1000)).status, 201);
    const files = await filesUnder(join(dir, 'attachments'));
    // 25 MiB is the default limit; the declared length is within the multipart allowance, so the body is read.
    const refused = await streamUpload(server.port, auth, 'too-big.bin', 25 * 1024 * 1024 + 30_000);
    assert.equal(refused.status, 413);
    assert.deepEqual(refused.body as unknown, { error: 'PayloadTooLarge', description: 'Attachments are limited to 26214400 bytes' });
    assert.deepEqual(await filesUnder(join(dir, 'attachments')), files, 'no file and no temporary file left');
    assert.equal((await streamUpload(server.port, auth, 'after.bin', 1000)).status, 201, 'the next upload is taken');
  });
});
