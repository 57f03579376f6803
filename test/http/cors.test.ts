/** CORS for browser integrations: off by default, an allow-list from CORS_ORIGINS, never credentials with `*`. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '../../src/config.js';
import { parseCorsOrigins } from '../../src/http/cors.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const APP = 'https://app.example.com';
const preflight = (origin: string, method = 'PUT') => ({
  method: 'OPTIONS' as const,
  url: '/api/v2/tickets/1/side_conversations/abc.json',
  headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
  auth: null,
});

describe('CORS is off by default', () => {
  let t: TestApp;
  before(async () => (t = await startTestApp()));
  after(() => t.close());

  it('a preflight is an unknown endpoint and answers carry no CORS headers', async () => {
    const pre = await t.request(preflight(APP));
    assert.equal(pre.statusCode, 404);
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    const res = await t.request({ method: 'GET', url: '/api/v2/users/me.json', headers: { origin: APP } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });
});

describe('CORS with an allow-list', () => {
  let t: TestApp;
  before(async () => (t = await startTestApp({ cors: parseCorsOrigins(`${APP}, http://localhost:5173`) })));
  after(() => t.close());

  it('a preflight from a listed origin is answered 204 before authentication, with credentials', async () => {
    const res = await t.request(preflight(APP));
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.match(String(res.headers['access-control-allow-methods']), /\bPUT\b/);
    assert.match(String(res.headers['access-control-allow-headers']), /Authorization/);
    assert.match(String(res.headers['access-control-allow-headers']), /Content-Type/);
    assert.match(String(res.headers['vary']), /\bOrigin\b/);
    assert.equal(res.body, '');
  });

  it('answers to a listed origin, errors included, carry the CORS headers and Vary: Origin', async () => {
    const ok = await t.request({ method: 'GET', url: '/api/v2/users/me.json', headers: { origin: 'http://localhost:5173' } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers['access-control-allow-origin'], 'http://localhost:5173');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    assert.match(String(ok.headers['access-control-expose-headers']), /Retry-After/);
    assert.match(String(ok.headers['vary']), /\bOrigin\b/);
    const refused = await t.request({ method: 'GET', url: '/api/v2/users/me.json', headers: { origin: APP }, auth: null });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.headers['access-control-allow-origin'], APP, 'the browser may read why it was refused');
  });

  it('an origin not listed gets no CORS headers, and its preflight a 403 that names it', async () => {
    const pre = await t.request(preflight('https://evil.example'));
    assert.equal(pre.statusCode, 403);
    assert.deepEqual(pre.json(), { error: 'Forbidden', description: 'The origin https://evil.example is not in CORS_ORIGINS.' });
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    const res = await t.request({ method: 'GET', url: '/api/v2/users/me.json', headers: { origin: 'https://evil.example' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.match(String(res.headers['vary']), /\bOrigin\b/, 'a shared cache must not hand one origin\'s answer to another');
    // A look-alike is not the listed origin.
    const lookalike = await t.request(preflight(`${APP}.evil.example`));
    assert.equal(lookalike.statusCode, 403);
  });
});

describe('CORS with *', () => {
  let t: TestApp;
  before(async () => (t = await startTestApp({ cors: parseCorsOrigins(`*, ${APP}`) })));
  after(() => t.close());

  it('any origin may read, never with credentials; a listed origin still gets credentials', async () => {
    const any = await t.request(preflight('https://anyone.example', 'POST'));
    assert.equal(any.statusCode, 204);
    assert.equal(any.headers['access-control-allow-origin'], '*');
    assert.equal(any.headers['access-control-allow-credentials'], undefined);
    const res = await t.request({ method: 'GET', url: '/healthz', headers: { origin: 'https://anyone.example' } });
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    const listed = await t.request(preflight(APP));
    assert.equal(listed.headers['access-control-allow-origin'], APP);
    assert.equal(listed.headers['access-control-allow-credentials'], 'true');
  });
});

describe('CORS_ORIGINS', () => {
  it('unset or empty is off; entries must be bare origins', () => {
    assert.equal(loadConfig({}).cors, null);
    assert.equal(loadConfig({ CORS_ORIGINS: ' ' }).cors, null);
    assert.deepEqual([...loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:8080' }).cors!.origins], ['https://a.example', 'http://localhost:8080']);
    for (const bad of ['https://a.example/path', 'a.example', 'ftp://a.example', 'null']) {
      assert.throws(() => loadConfig({ CORS_ORIGINS: bad }), (error: unknown) => error instanceof ConfigError && error.message.includes('CORS_ORIGINS') && error.message.includes(bad));
    }
  });
});
