import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { basic, countRows, startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';
import { assertValidation, expectStatus, UNAUTHORIZED } from '../helpers/api.js';

const OPERATOR_TOKEN = randomBytes(24).toString('hex');
const NO_ACCOUNT = { error: 'InvalidEndpoint', description: 'No help desk is served at this address' };

interface CreatedBody {
  account: { id: number; subdomain: string; name: string; created_at: string };
  admin: { id: number; email: string; role: string };
  admin_password?: string;
}

/** One raw HTTP/1.1 exchange, for what inject cannot send (a repeated header). */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe(`accounts: the operator API and Host routing (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ operatorToken: OPERATOR_TOKEN });
  });
  after(async () => t.close());

  const create = (account: Record<string, unknown>, authorization: string | null = `Bearer ${OPERATOR_TOKEN}`) =>
    t.request({ method: 'POST', url: '/api/v2/sideline/accounts', payload: { account }, auth: null, headers: authorization ? { authorization } : {} });

  describe('POST /api/v2/sideline/accounts', () => {
    it('creates an account and its admin (password printed once), who can work on that subdomain at once', async () => {
      const res = await create({ subdomain: 'Globex', name: 'Globex Corp', admin_email: 'boss@globex.example' });
      expectStatus(res, 201);
      const body = res.json<CreatedBody>();
      assert.equal(body.account.subdomain, 'globex');
      assert.equal(body.account.name, 'Globex Corp');
      assert.equal(body.admin.role, 'admin');
      assert.equal(body.admin.email, 'boss@globex.example');
      assert.ok(body.admin_password && body.admin_password.length >= 16, res.body);
      assert.ok(!res.body.includes('scrypt$'));
      const auth = basic('boss@globex.example', body.admin_password);
      const me = await t.request({ method: 'GET', url: '/api/v2/users/me', auth, headers: { host: 'globex.help.example.com' } });
      expectStatus(me, 200);
      // Its admin is nobody in the first account.
      expectStatus(await t.request({ method: 'GET', url: '/api/v2/users/me', auth }), 401);
    });

    it('takes a chosen admin password and then does not echo one', async () => {
      const res = await create({ subdomain: 'initech', admin_email: 'bill@initech.example', admin_password: 'tps reports forever' });
      expectStatus(res, 201);
      assert.equal(res.json<CreatedBody>().admin_password, undefined);
      assert.ok(!res.body.includes('tps reports forever'));
      expectStatus(await t.request({ method: 'GET', url: '/api/v2/users/me', auth: basic('bill@initech.example', 'tps reports forever'), headers: { host: 'initech.localhost' } }), 200);
    });

    it('refuses a taken, malformed or reserved subdomain and a bad email (422), creating nothing', async () => {
      const accounts = await countRows(t.db, 'accounts');
      const users = await countRows(t.db, 'users');
      const taken = assertValidation(await create({ subdomain: 'support', admin_email: 'x@example.com' }), 'subdomain');
      assert.equal(taken.details['subdomain']![0]!.error, 'DuplicateValue');
      for (const subdomain of ['bad_label', 'a.b', '-x', 'www', 'localhost', 'x y']) {
        assertValidation(await create({ subdomain, admin_email: 'x@example.com' }), 'subdomain');
      }
      assertValidation(await create({ subdomain: 'fine', admin_email: 'not an email' }), 'admin_email');
      assertValidation(await create({ subdomain: 'fine', admin_email: 'x@example.com', admin_password: 'short' }), 'account.admin_password');
      assert.equal(await countRows(t.db, 'accounts'), accounts);
      assert.equal(await countRows(t.db, 'users'), users);
    });

    it('answers only the operator token: none, a wrong one, or an admin’s credentials get 401', async () => {
      const accounts = await countRows(t.db, 'accounts');
      for (const authorization of [null, 'Bearer wrong', `Bearer ${OPERATOR_TOKEN}x`, `Basic ${Buffer.from(`x:${OPERATOR_TOKEN}`).toString('base64')}`, t.admin.auth]) {
        const res = await create({ subdomain: 'sneaky', admin_email: 'x@example.com' }, authorization);
        expectStatus(res, 401);
        assert.deepEqual(res.json(), UNAUTHORIZED);
      }
      assert.equal(await countRows(t.db, 'accounts'), accounts);
    });
  });

  describe('Host routing', () => {
    it('a Host that names no account is a 404 InvalidEndpoint, even with good credentials', async () => {
      for (const host of ['nosuch.example.com', 'nosuch.localhost:3000', 'support-typo.example.com']) {
        const res = await t.request({ method: 'GET', url: '/api/v2/users/me', headers: { host } });
        expectStatus(res, 404);
        assert.deepEqual(res.json(), NO_ACCOUNT);
        const anonymous = await t.request({ method: 'GET', url: '/api/v2/tickets', auth: null, headers: { host } });
        expectStatus(anonymous, 404);
      }
    });

    it('a bare IP address or localhost speaks to the first account; so does its own subdomain', async () => {
      for (const host of ['localhost', 'localhost:3000', '127.0.0.1', '127.0.0.1:3000', '[::1]:3000', '10.1.2.3', 'support.example.com', 'SUPPORT.example.com:8443']) {
        const res = await t.request({ method: 'GET', url: '/api/v2/users/me', headers: { host } });
        expectStatus(res, 200);
      }
    });

    it('two Host headers are a 400', async () => {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = t.app.server.address() as AddressInfo;
      const answer = await rawRequest(port, `GET /api/v2/users/me HTTP/1.1\r\nHost: localhost\r\nHost: globex.localhost\r\nAuthorization: ${t.admin.auth}\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 400 /);
      assert.ok(answer.includes('"error":"InvalidHost"'), answer);
      const single = await rawRequest(port, `GET /api/v2/users/me HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${t.admin.auth}\r\nConnection: close\r\n\r\n`);
      assert.match(single, /^HTTP\/1\.1 200 /);
    });
  });
});

describe(`accounts: PUBLIC_URL and an unset operator token (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ publicUrl: 'https://help.example.com' });
  });
  after(async () => t.close());

  it('PUBLIC_URL’s host speaks to the first account', async () => {
    expectStatus(await t.request({ method: 'GET', url: '/api/v2/users/me', headers: { host: 'help.example.com' } }), 200);
    expectStatus(await t.request({ method: 'GET', url: '/api/v2/users/me', headers: { host: 'other.example.com' } }), 404);
  });

  it('without SIDELINE_OPERATOR_TOKEN the operator API does not exist (404, whatever is sent)', async () => {
    const accounts = await countRows(t.db, 'accounts');
    for (const authorization of ['Bearer ', 'Bearer undefined', t.admin.auth]) {
      const res = await t.request({ method: 'POST', url: '/api/v2/sideline/accounts', payload: { account: { subdomain: 'x', admin_email: 'x@example.com' } }, headers: { authorization } });
      expectStatus(res, 404);
      assert.equal(res.json<{ error: string }>().error, 'InvalidEndpoint');
    }
    assert.equal(await countRows(t.db, 'accounts'), accounts);
  });
});
