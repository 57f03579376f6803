import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';

/** Regressions found by `npm run test:faults`: each of these once answered 500. */
describe(`hostile input found by the fault harness (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => t.close());

  it('a NUL or control character in Basic credentials is a 401, not a 500', async () => {
    for (const login of ['a\u0000b@example.com:pw', 'x\u0000/token:abc', 'admin@example.com\r\n:pw']) {
      const res = await t.request({ method: 'GET', url: '/api/v2/users/me', headers: { authorization: `Basic ${Buffer.from(login).toString('base64')}` } });
      assert.equal(res.statusCode, 401, login);
      assert.deepEqual(res.json(), { error: "Couldn't authenticate you" });
    }
    const bearer = await t.request({ method: 'GET', url: '/api/v2/users/me', headers: { authorization: 'Bearer \u00e9\u00e9' } });
    assert.equal(bearer.statusCode, 401);
  });

  it('an attachment id of 36 dashes is a 404', async () => {
    const res = await t.request({ method: 'GET', url: `/api/v2/tickets/side_conversations/attachments/${'-'.repeat(36)}/download/x` });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json<{ error: string }>().error, 'RecordNotFound');
  });

  it('disconnecting a Slack team id with a NUL is a 404', async () => {
    const res = await t.request({ method: 'DELETE', url: '/api/v2/sideline/integrations/slack/%00' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json<{ error: string }>().error, 'RecordNotFound');
  });

  it('a malformed URL and an overlong path parameter get Zendesk bodies', async () => {
    const bad = await t.request({ method: 'GET', url: '/api/v2/tickets/%ZZ' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json<{ error: string }>().error, 'InvalidEndpoint');
    const long = await t.request({ method: 'GET', url: `/api/v2/tickets/1/side_conversations/${'a'.repeat(300)}` });
    assert.equal(long.statusCode, 404);
    assert.deepEqual(long.json(), { error: 'RecordNotFound', description: 'Not found' });
  });
});
