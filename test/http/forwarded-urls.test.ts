import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';

interface Page {
  users: Array<{ url: string }>;
  next_page: string | null;
}

/** Every `url` and page link of a users page. */
function linksOf(body: Page): string[] {
  return [...body.users.map((u) => u.url), ...(body.next_page ? [body.next_page] : [])];
}

describe(`URLs behind a trusted proxy (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ trustProxy: true });
    await t.createUser('agent');
  });
  after(async () => t.close());

  const list = (headers: Record<string, string>) => t.request({ method: 'GET', url: '/api/v2/users?per_page=1', headers });

  it('takes https and http from X-Forwarded-Proto', async () => {
    for (const proto of ['https', 'HTTP']) {
      const res = await list({ 'x-forwarded-proto': proto, 'x-forwarded-host': 'help.example.com' });
      assert.equal(res.statusCode, 200, res.body);
      for (const url of linksOf(res.json<Page>())) assert.ok(url.startsWith(`${proto.toLowerCase()}://help.example.com/api/v2/`), url);
    }
  });

  it('never copies any other X-Forwarded-Proto into url or next_page', async () => {
    for (const proto of ['javascript:alert(1)//', 'javascript', 'data', 'ftp', 'https:', 'http://evil', 'https, javascript']) {
      const res = await list({ 'x-forwarded-proto': proto, 'x-forwarded-host': 'help.example.com' });
      assert.equal(res.statusCode, 200, res.body);
      const links = linksOf(res.json<Page>());
      assert.ok(links.length >= 2, res.body);
      for (const url of links) assert.ok(url.startsWith('http://help.example.com/api/v2/'), `${proto} → ${url}`);
      assert.ok(!/javascript|data:|ftp|evil/.test(res.body), res.body);
    }
  });

  it('an X-Forwarded-Host that is no plain host[:port] falls back to the Host header', async () => {
    for (const host of ['evil.example"><svg onload=alert(1)>', 'javascript:alert(1)//', 'a b', 'evil.example/path', 'user@evil.example', 'evil.example:99999x']) {
      const res = await list({ 'x-forwarded-proto': 'https', 'x-forwarded-host': host });
      assert.equal(res.statusCode, 200, res.body);
      for (const url of linksOf(res.json<Page>())) assert.ok(url.startsWith('https://localhost:80/api/v2/'), `${host} → ${url}`);
      assert.ok(!/evil|javascript|svg/.test(res.body), res.body);
    }
  });
});
