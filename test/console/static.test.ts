import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../helpers/app.js';

// The agent console's files at /agent/, from a fake build in a temporary directory (the real
// build is console/'s own), and the page shown when there is no build.

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'";
const INDEX = '<!doctype html><html><head><script type="module" src="/agent/assets/index-3f9a1c2b.js"></script></head><body><div id="root"></div></body></html>';
const SCRIPT = 'console.log("console");';

let dir: string;
let built: TestApp;
let unbuilt: TestApp;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sideline-console-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), INDEX);
  await writeFile(join(dir, 'assets', 'index-3f9a1c2b.js'), SCRIPT);
  await writeFile(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(join(dir, '.env'), 'SECRET=1');
  await writeFile(join(dir, 'manifest.json'), '{"name":"Sideline"}');
  built = await startTestApp({ consoleDir: dir });
  unbuilt = await startTestApp({ consoleDir: join(dir, 'missing') });
});
after(async () => {
  await built.close();
  await unbuilt.close();
  await rm(dir, { recursive: true, force: true });
});

function assertConsoleHeaders(headers: Record<string, unknown>): void {
  assert.equal(headers['content-security-policy'], CSP);
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(headers['x-content-type-options'], 'nosniff');
}

describe('the built console', () => {
  it('GET / redirects (302) to /agent/', async () => {
    const res = await built.request({ method: 'GET', url: '/', auth: null });
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, '/agent/');
  });

  it('serves index.html at /agent/ and /agent without credentials, revalidated, with the CSP', async () => {
    for (const url of ['/agent/', '/agent']) {
      const res = await built.request({ method: 'GET', url, auth: null });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      assert.equal(res.body, INDEX);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.equal(res.headers['cache-control'], 'no-cache');
      assertConsoleHeaders(res.headers);
    }
  });

  it('serves index.html for client routes', async () => {
    for (const url of ['/agent/login', '/agent/tickets/42', '/agent/tickets/42/side_conversations/abc?x=1']) {
      const res = await built.request({ method: 'GET', url, auth: null });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      assert.equal(res.body, INDEX);
      assert.equal(res.headers['cache-control'], 'no-cache');
      assertConsoleHeaders(res.headers);
    }
  });

  it('serves hashed assets as immutable, with their type', async () => {
    const res = await built.request({ method: 'GET', url: '/agent/assets/index-3f9a1c2b.js', auth: null });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.body, SCRIPT);
    assert.match(String(res.headers['content-type']), /javascript/);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    assertConsoleHeaders(res.headers);
    const head = await built.request({ method: 'HEAD', url: '/agent/assets/index-3f9a1c2b.js', auth: null });
    assert.equal(head.statusCode, 200);
  });

  it('revalidates files outside assets/', async () => {
    const res = await built.request({ method: 'GET', url: '/agent/favicon.svg', auth: null });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-cache');
  });

  it('serves .json files as they are named (the API suffix folding stays out of /agent/)', async () => {
    const res = await built.request({ method: 'GET', url: '/agent/manifest.json', auth: null });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.body, '{"name":"Sideline"}');
  });

  it('answers a missing asset with 404, not with the page', async () => {
    const res = await built.request({ method: 'GET', url: '/agent/assets/index-00000000.js', auth: null });
    assert.equal(res.statusCode, 404);
    assert.notEqual(res.body, INDEX);
  });

  it('never serves dotfiles or anything outside the directory', async () => {
    for (const url of ['/agent/.env', '/agent/../package.json', '/agent/%2e%2e/package.json', '/agent/assets/..%2f..%2fpackage.json']) {
      const res = await built.request({ method: 'GET', url, auth: null });
      assert.ok(!res.body.includes('SECRET=1') && !res.body.includes('"name": "sideline"'), `${url} leaked: ${res.statusCode}`);
      assert.ok(res.statusCode < 500, `${url}: ${res.statusCode}`);
    }
  });

  it('leaves the API as it was', async () => {
    const res = await built.request({ method: 'GET', url: '/api/v2/users/me' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-security-policy'], undefined);
  });
});

describe('no build', () => {
  it('answers /agent/ and its routes with 503 and a page saying to run npm run build', async () => {
    for (const url of ['/agent/', '/agent/tickets/1']) {
      const res = await unbuilt.request({ method: 'GET', url, auth: null });
      assert.equal(res.statusCode, 503, url);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.ok(res.body.includes('npm run build'), res.body);
      assertConsoleHeaders(res.headers);
    }
    const root = await unbuilt.request({ method: 'GET', url: '/', auth: null });
    assert.equal(root.statusCode, 302);
  });
});
