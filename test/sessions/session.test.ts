import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { countRows, startTestApp, type TestApp, type TestUser } from '../helpers/app.js';
import { signIn, signInRequest, type SessionBody } from '../helpers/console.js';

// Console sessions: sign-in, the cookie, CSRF on writes, sign-out, idle expiry (on a clock the
// test moves) and revocation by credentials_version, on the real app and store.

const HOUR = 60 * 60 * 1000;
const SESSION = '/api/v2/sideline/session';
const WRONG = { error: 'InvalidCredentials', description: 'Wrong email or password.' };
const CSRF_REFUSED = { error: 'Forbidden', description: 'Missing or wrong X-CSRF-Token.' };

let t: TestApp;
let agent: TestUser;
let clock = Date.parse('2026-06-01T08:00:00Z');

before(async () => {
  t = await startTestApp({ trustProxy: true }, { sessions: { now: () => clock } });
  agent = await t.createUser('agent', 'Console Agent');
});
after(async () => t.close());

function withCookie(cookie: string, headers: Record<string, string> = {}): Record<string, string> {
  return { cookie, ...headers };
}

describe('sign in', () => {
  it('answers 201 with the user, a CSRF token and the expiry, and sets an HttpOnly SameSite=Lax cookie', async () => {
    const { response, body, cookie } = await signIn(t, agent);
    assert.deepEqual(body.session.user, { id: agent.id, name: 'Console Agent', email: agent.email, role: 'agent' });
    assert.match(body.session.csrf_token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(body.session.expires_at, new Date(clock + 12 * HOUR).toISOString());
    const setCookie = String(response.headers['set-cookie']);
    assert.match(setCookie, /^sideline_session=[A-Za-z0-9_-]{43}; /);
    for (const flag of ['HttpOnly', 'SameSite=Lax', 'Path=/']) assert.ok(setCookie.split('; ').includes(flag), `${flag} missing in ${setCookie}`);
    assert.ok(!/;\s*Secure/i.test(setCookie), 'no Secure over plain http');
    assert.equal(response.headers['cache-control'], 'no-store');
    // The store keeps only a hash of the token.
    const token = cookie.split('=')[1]!;
    const rows = await t.db.selectFrom('console_sessions').select('token_hash').execute();
    assert.ok(rows.length > 0 && rows.every((r) => r.token_hash !== token && /^[0-9a-f]{64}$/.test(r.token_hash)));
  });

  it('marks the cookie Secure when the request came over https (behind a trusted proxy)', async () => {
    const res = await signInRequest(t, agent.email, agent.password, { 'x-forwarded-proto': 'https' });
    assert.equal(res.statusCode, 201, res.body);
    assert.ok(String(res.headers['set-cookie']).split('; ').includes('Secure'), String(res.headers['set-cookie']));
  });

  it('takes the email in any case', async () => {
    const res = await signInRequest(t, agent.email.toUpperCase(), agent.password);
    assert.equal(res.statusCode, 201, res.body);
  });

  it('refuses a wrong password and an unknown email with the same 401 body, no cookie and no Basic challenge', async () => {
    const before = await countRows(t.db, 'console_sessions');
    for (const [email, password] of [
      [agent.email, 'not-the-password'],
      ['nobody@example.com', agent.password],
    ] as const) {
      const res = await signInRequest(t, email, password);
      assert.equal(res.statusCode, 401, res.body);
      assert.deepEqual(res.json(), WRONG);
      assert.equal(res.headers['set-cookie'], undefined);
      assert.equal(res.headers['www-authenticate'], undefined);
    }
    assert.equal(await countRows(t.db, 'console_sessions'), before);
  });

  it('refuses end-users with 403 and the contract message', async () => {
    const endUser = await t.createUser('end-user');
    const res = await signInRequest(t, endUser.email, endUser.password);
    assert.equal(res.statusCode, 403, res.body);
    assert.deepEqual(res.json(), { error: 'Forbidden', description: 'End-users cannot sign in to the agent console.' });
    assert.equal(res.headers['set-cookie'], undefined);
  });

  it('refuses a deactivated user as wrong credentials', async () => {
    const gone = await t.createUser('agent');
    await t.db.updateTable('users').set({ active: false }).where('id', '=', gone.id).execute();
    const res = await signInRequest(t, gone.email, gone.password);
    assert.equal(res.statusCode, 401, res.body);
    assert.deepEqual(res.json(), WRONG);
  });

  it('answers bad bodies with 400/422, never 500', async () => {
    const notJson = await t.request({ method: 'POST', url: SESSION, auth: null, headers: { 'content-type': 'application/json' }, payload: '{' });
    assert.equal(notJson.statusCode, 400, notJson.body);
    for (const payload of [{}, { email: agent.email }, { email: 1, password: 'x' }, { email: agent.email, password: '' }, { email: 'a', password: 'x'.repeat(2000) }]) {
      const res = await t.request({ method: 'POST', url: SESSION, auth: null, payload });
      assert.equal(res.statusCode, 422, `${JSON.stringify(payload)}: ${res.body}`);
      assert.equal(res.json<{ error: string }>().error, 'RecordInvalid');
    }
  });
});

describe('the session cookie authenticates', () => {
  it('GET session answers the same body with the same CSRF token', async () => {
    const { cookie, body } = await signIn(t, agent);
    const res = await t.request({ method: 'GET', url: SESSION, auth: null, headers: withCookie(cookie) });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json<SessionBody>(), body);
  });

  it('GET session without a cookie, or with a forged one, is 401 (and never a 500)', async () => {
    for (const cookie of [undefined, 'sideline_session=forged', `sideline_session=${'A'.repeat(43)}`, 'sideline_session=%E0%A4%A', 'junk']) {
      const res = await t.request({ method: 'GET', url: SESSION, auth: null, headers: cookie ? { cookie } : {} });
      assert.equal(res.statusCode, 401, `${cookie}: ${res.body}`);
    }
  });

  it('GET session with Basic credentials (no session) is 401', async () => {
    const res = await t.request({ method: 'GET', url: SESSION, auth: agent.auth });
    assert.equal(res.statusCode, 401, res.body);
  });

  it('works on every API endpoint as that user, with the same roles', async () => {
    const { cookie } = await signIn(t, agent);
    const me = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: null, headers: withCookie(cookie) });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json<{ user: { id: number } }>().user.id, agent.id);
    const adminOnly = await t.request({ method: 'GET', url: '/api/v2/api_tokens', auth: null, headers: withCookie(cookie) });
    assert.equal(adminOnly.statusCode, 403, adminOnly.body);
  });

  it('is ignored when an Authorization header is present: the header decides, and needs no CSRF token', async () => {
    const { cookie } = await signIn(t, agent);
    const res = await t.request({
      method: 'POST',
      url: '/api/v2/tickets',
      auth: t.admin.auth,
      headers: withCookie(cookie),
      payload: { ticket: { subject: 'by basic', comment: { body: 'x' } } },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json<{ ticket: { submitter_id: number } }>().ticket.submitter_id, t.admin.id);
  });

  it('does not work in another account', async () => {
    const other = await t.createAccount('othercorp');
    await sleep(1_100); // the account resolver sees a new account within a second
    const signedIn = await signIn(t, agent);
    const res = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: null, headers: { cookie: signedIn.cookie, host: 'othercorp.example.com' } });
    assert.equal(res.statusCode, 401, res.body);
    // …and a user of that account signs in only there.
    const there = await t.request({ method: 'POST', url: SESSION, auth: null, headers: { host: 'othercorp.example.com' }, payload: { email: other.admin.email, password: other.admin.password } });
    assert.equal(there.statusCode, 201, there.body);
    const here = await signInRequest(t, other.admin.email, other.admin.password);
    assert.equal(here.statusCode, 401, here.body);
  });

  it('leaves out the Basic challenge for a stale cookie or a browser fetch, keeps it for API clients', async () => {
    const stale = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: null, headers: { cookie: 'sideline_session=stale' } });
    assert.equal(stale.statusCode, 401);
    assert.equal(stale.headers['www-authenticate'], undefined);
    const fetched = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: null, headers: { 'sec-fetch-mode': 'cors' } });
    assert.equal(fetched.statusCode, 401);
    assert.equal(fetched.headers['www-authenticate'], undefined);
    const api = await t.request({ method: 'GET', url: '/api/v2/users/me', auth: null });
    assert.equal(api.statusCode, 401);
    assert.equal(api.headers['www-authenticate'], 'Basic realm="Web Password"');
  });
});

describe('CSRF', () => {
  it('refuses a cookie-authenticated write without X-CSRF-Token, or with a wrong one, and writes nothing', async () => {
    const { cookie, csrf } = await signIn(t, agent);
    const tickets = await countRows(t.db, 'tickets');
    const almost = `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}`;
    const attempts: Array<Record<string, string>> = [{}, { 'x-csrf-token': 'wrong' }, { 'x-csrf-token': almost }, { 'x-csrf-token': '' }];
    for (const extra of attempts) {
      const res = await t.request({
        method: 'POST',
        url: '/api/v2/tickets',
        auth: null,
        headers: withCookie(cookie, extra),
        payload: { ticket: { subject: 'forged', comment: { body: 'x' } } },
      });
      assert.equal(res.statusCode, 403, res.body);
      assert.deepEqual(res.json(), CSRF_REFUSED);
    }
    assert.equal(await countRows(t.db, 'tickets'), tickets);
  });

  it('accepts the write with the session’s token, as the signed-in user', async () => {
    const { cookie, csrf } = await signIn(t, agent);
    const res = await t.request({
      method: 'POST',
      url: '/api/v2/tickets',
      auth: null,
      headers: withCookie(cookie, { 'x-csrf-token': csrf }),
      payload: { ticket: { subject: 'from the console', comment: { body: 'x' } } },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json<{ ticket: { submitter_id: number } }>().ticket.submitter_id, agent.id);
  });

  it('does not accept another session’s token', async () => {
    const mine = await signIn(t, agent);
    const theirs = await signIn(t, t.admin);
    const res = await t.request({
      method: 'PUT',
      url: '/api/v2/tickets/1',
      auth: null,
      headers: withCookie(mine.cookie, { 'x-csrf-token': theirs.csrf }),
      payload: { ticket: { status: 'pending' } },
    });
    assert.equal(res.statusCode, 403, res.body);
    assert.deepEqual(res.json(), CSRF_REFUSED);
  });
});

describe('sign out', () => {
  it('needs the CSRF token, then revokes the session and clears the cookie', async () => {
    const { cookie, csrf } = await signIn(t, agent);
    const refused = await t.request({ method: 'DELETE', url: SESSION, auth: null, headers: withCookie(cookie) });
    assert.equal(refused.statusCode, 403, refused.body);
    const still = await t.request({ method: 'GET', url: SESSION, auth: null, headers: withCookie(cookie) });
    assert.equal(still.statusCode, 200);

    const sessions = await countRows(t.db, 'console_sessions');
    const res = await t.request({ method: 'DELETE', url: SESSION, auth: null, headers: withCookie(cookie, { 'x-csrf-token': csrf }) });
    assert.equal(res.statusCode, 204, res.body);
    const cleared = String(res.headers['set-cookie']);
    assert.match(cleared, /^sideline_session=; /);
    assert.ok(cleared.includes('Max-Age=0'), cleared);
    assert.equal(await countRows(t.db, 'console_sessions'), sessions - 1);

    for (const url of [SESSION, '/api/v2/users/me']) {
      const after = await t.request({ method: 'GET', url, auth: null, headers: withCookie(cookie) });
      assert.equal(after.statusCode, 401, `${url}: ${after.body}`);
    }
  });

  it('needs a session (Basic credentials have nothing to sign out)', async () => {
    const res = await t.request({ method: 'DELETE', url: SESSION, auth: agent.auth });
    assert.equal(res.statusCode, 401, res.body);
  });

  it('by another process (the row deleted) is seen within the re-check interval', async () => {
    const { cookie, body } = await signIn(t, agent);
    assert.equal((await t.request({ method: 'GET', url: SESSION, auth: null, headers: withCookie(cookie) })).statusCode, 200);
    await t.db.deleteFrom('console_sessions').where('csrf_token', '=', body.session.csrf_token).execute();
    clock += 1_001;
    assert.equal((await t.request({ method: 'GET', url: SESSION, auth: null, headers: withCookie(cookie) })).statusCode, 401);
  });
});

describe('expiry and revocation', () => {
  async function status(cookie: string): Promise<number> {
    return (await t.request({ method: 'GET', url: '/api/v2/users/me', auth: null, headers: withCookie(cookie) })).statusCode;
  }
  async function lastSeen(csrf: string): Promise<number> {
    const row = await t.db.selectFrom('console_sessions').select(['last_seen_at']).where('csrf_token', '=', csrf).executeTakeFirstOrThrow();
    return row.last_seen_at.getTime();
  }

  it('slides with use, writing last_seen_at at most once a minute, and ends after 12 idle hours', async () => {
    const { cookie, csrf } = await signIn(t, agent);
    const start = clock;
    clock = start + 30_000;
    assert.equal(await status(cookie), 200);
    assert.equal(await lastSeen(csrf), start, 'not written within the minute');
    clock = start + 11 * HOUR;
    assert.equal(await status(cookie), 200);
    assert.equal(await lastSeen(csrf), start + 11 * HOUR);
    const session = await t.request({ method: 'GET', url: SESSION, auth: null, headers: withCookie(cookie) });
    assert.equal(session.json<SessionBody>().session.expires_at, new Date(start + 23 * HOUR).toISOString());
    // 11 h later again: still alive, because it was used (sliding).
    clock = start + 22 * HOUR;
    assert.equal(await status(cookie), 200);
    // 12 h without use: over, and the row is gone.
    clock = start + 34 * HOUR + 1;
    assert.equal(await status(cookie), 401);
    assert.equal(await t.db.selectFrom('console_sessions').select('id').where('csrf_token', '=', csrf).executeTakeFirst(), undefined);
  });

  it('dies when the user’s credentials_version moves on (a password change anywhere)', async () => {
    const user = await t.createUser('agent');
    const { cookie } = await signIn(t, user);
    assert.equal(await status(cookie), 200);
    await t.db.updateTable('users').set({ credentials_version: sql`credentials_version + 1` }).where('id', '=', user.id).execute();
    clock += 1_001;
    assert.equal(await status(cookie), 401);
    // The same password signs in again afterwards (the new session carries the new version).
    const again = await signIn(t, user);
    assert.equal(await status(again.cookie), 200);
  });

  it('dies when the user is deactivated, and when made an end-user', async () => {
    for (const change of [{ active: false }, { role: 'end-user' as const }]) {
      const user = await t.createUser('agent');
      const { cookie } = await signIn(t, user);
      assert.equal(await status(cookie), 200);
      await t.db.updateTable('users').set(change).where('id', '=', user.id).execute();
      clock += 1_001;
      assert.equal(await status(cookie), 401, JSON.stringify(change));
    }
  });

  it('dies at once in this process when an API token of the user is revoked here', async () => {
    const { cookie, csrf } = await signIn(t, t.admin);
    const created = await t.request({ method: 'POST', url: '/api/v2/api_tokens', auth: null, headers: withCookie(cookie, { 'x-csrf-token': csrf }), payload: { api_token: { description: 'x' } } });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json<{ api_token: { id: number } }>().api_token.id;
    const revoked = await t.request({ method: 'DELETE', url: `/api/v2/api_tokens/${id}`, auth: null, headers: withCookie(cookie, { 'x-csrf-token': csrf }) });
    assert.equal(revoked.statusCode, 204, revoked.body);
    assert.equal(await status(cookie), 401, 'no re-check interval needed');
  });
});
