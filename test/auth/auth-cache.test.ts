import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely, type KyselyPlugin, type RootOperationNode } from 'kysely';
import { Authenticator, type AuthenticatorOptions, type Principal } from '../../src/auth/authenticator.js';
import { hashPassword } from '../../src/auth/credentials.js';
import type { Database } from '../../src/db/types.js';
import { basic, startTestApp, STORE_KIND, type TestApp, type TestUser } from '../helpers/app.js';

// The authenticator's promises are about work, not time: how many times it reads the database for
// a burst of requests. Each test wraps the test database in a plugin that records every query the
// authenticator runs (and only those), and asserts exact counts. Where a test depends on the clock
// (user re-read interval, refresh window, expiry), Date is mocked, so nothing depends on how fast
// the machine is.

/** The three statements the authenticator runs, told apart by their compiled SQL. */
type QueryKind = 'password' | 'token' | 'recheck' | 'other';

function classify(node: RootOperationNode, text: string): QueryKind {
  if (node.kind !== 'SelectQueryNode') return 'other';
  if (/\bfrom "api_tokens"/.test(text)) return 'token';
  if (!/\bfrom "users"/.test(text)) return 'other';
  // The password lookup is the only one that reads the hash; the re-read is by id.
  if (/"password_hash"/.test(text)) return 'password';
  if (/"credentials_version"/.test(text) && /"id" = \$\d+/.test(text)) return 'recheck';
  return 'other';
}

interface Held {
  /** Resolves once the held query's rows are back from the database (and are being withheld); rejects after 5 s. */
  reached: Promise<void>;
  release(): void;
}

interface CountedDb {
  db: Kysely<Database>;
  /** Kinds of the queries run since the last reset, in the order they were issued. */
  kinds(): QueryKind[];
  count(kind: QueryKind): number;
  sqlOf(kind: QueryKind): string[];
  reset(): void;
  /** Withholds the result of the next query of this kind until release() (the connection stays checked out). */
  holdNext(kind: QueryKind): Held;
}

function countQueries(base: Kysely<Database>): CountedDb {
  let log: Array<{ kind: QueryKind; sql: string }> = [];
  let armed: { kind: QueryKind; queryId: string | null; gate: Promise<void>; reached: () => void } | null = null;
  const plugin: KyselyPlugin = {
    transformQuery(args) {
      const { sql: text } = base.getExecutor().compileQuery(args.node, args.queryId);
      const kind = classify(args.node, text);
      log.push({ kind, sql: text });
      if (armed && armed.queryId === null && armed.kind === kind) armed.queryId = args.queryId.queryId;
      return args.node;
    },
    async transformResult(args) {
      if (armed && armed.queryId === args.queryId.queryId) {
        const { gate, reached } = armed;
        armed = null;
        reached();
        await gate;
      }
      return args.result;
    },
  };
  return {
    db: base.withPlugin(plugin),
    kinds: () => log.map((q) => q.kind),
    count: (kind) => log.filter((q) => q.kind === kind).length,
    sqlOf: (kind) => log.filter((q) => q.kind === kind).map((q) => q.sql),
    reset: () => {
      log = [];
    },
    holdNext(kind) {
      let release!: () => void;
      let reached!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const timeout = new AbortController();
      const reachedPromise = Promise.race([
        new Promise<void>((resolve) => (reached = resolve)),
        sleep(5_000, undefined, { signal: timeout.signal }).then(() => {
          throw new Error(`no ${kind} query was run within 5 s`);
        }),
      ]).finally(() => timeout.abort());
      reachedPromise.catch(() => undefined);
      armed = { kind, queryId: null, gate, reached };
      return {
        reached: reachedPromise,
        release: () => {
          if (armed?.gate === gate) armed = null;
          release();
        },
      };
    },
  };
}

/** The promise's value, or a failure with this message if it takes more than 2 s (it should take microseconds). */
async function within<T>(promise: Promise<T>, message: string): Promise<T> {
  const timeout = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleep(2_000, undefined, { signal: timeout.signal }).then(() => {
        throw new Error(message);
      }),
    ]);
  } finally {
    timeout.abort();
  }
}

/** Date.now() frozen at a start time and moved only by the test; timers stay real. */
function frozenClock(tc: TestContext): { at(offsetMs: number): void } {
  const start = Date.now();
  tc.mock.timers.enable({ apis: ['Date'], now: start });
  return {
    at(offsetMs: number) {
      tc.mock.timers.setTime(start + offsetMs);
    },
  };
}

describe(`authenticator cache (${STORE_KIND})`, () => {
  let t: TestApp;
  let seq = 0;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => t.close());

  /** A fresh authenticator (empty cache) whose queries are counted. */
  function authenticator(options: AuthenticatorOptions = {}): { auth: Authenticator; q: CountedDb } {
    const q = countQueries(t.db);
    return { auth: new Authenticator(q.db, options), q };
  }

  async function agent(): Promise<TestUser & { name: string }> {
    seq += 1;
    const name = `Cache Agent ${seq}`;
    return { ...(await t.createUser('agent', name)), name };
  }

  function principal(user: TestUser & { name: string }, role: Principal['role'] = 'agent'): Principal {
    return { accountId: t.accountId, userId: user.id, name: user.name, email: user.email, role };
  }

  async function createToken(userId: number): Promise<string> {
    const res = await t.request({ method: 'POST', url: '/api/v2/api_tokens', payload: { api_token: { user_id: userId, description: 'auth cache test' } } });
    assert.equal(res.statusCode, 201, res.body);
    const token = res.json<{ api_token: { token?: string } }>().api_token.token;
    assert.ok(token);
    return token;
  }

  const burst = (auth: Authenticator, header: string, n: number) =>
    Promise.all(Array.from({ length: n }, () => auth.authenticate(t.accountId, header)));

  it('the query counter tells the password lookup, the token lookup and the user re-read apart', async (tc) => {
    const clock = frozenClock(tc);
    const user = await agent();
    const token = await createToken(user.id);
    const { auth, q } = authenticator({ userRecheckMs: 1_000 });

    assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
    assert.deepEqual(q.kinds(), ['password']);
    assert.match(q.sqlOf('password')[0]!, /^select .*"password_hash".* from "users" where .*lower\("email"\)/);

    assert.deepEqual(await auth.authenticate(t.accountId, basic(`${user.email}/token`, token)), principal(user));
    assert.deepEqual(q.kinds(), ['password', 'token']);
    assert.match(q.sqlOf('token')[0]!, /from "api_tokens" inner join "users"/);

    clock.at(1_001);
    assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
    assert.deepEqual(q.kinds(), ['password', 'token', 'recheck']);
    assert.doesNotMatch(q.sqlOf('recheck')[0]!, /password_hash|api_tokens/);

    // Anything else run through the wrapped database would show up as 'other', not as one of the three.
    q.reset();
    await q.db.selectFrom('users').select('name').where('id', '=', user.id).execute();
    await sql`select 1`.execute(q.db);
    assert.deepEqual(q.kinds(), ['other', 'other']);
  });

  it('refuses missing, oversized and malformed headers without touching the database', async () => {
    const user = await agent();
    const { auth, q } = authenticator();
    const headers: Array<string | undefined> = [
      undefined,
      '',
      `Basic ${'A'.repeat(4100)}`,
      'Basic',
      `Digest ${Buffer.from(`${user.email}:${user.password}`).toString('base64')}`,
      basic(user.email, ''),
      basic('', user.password),
      `Basic ${Buffer.from(`${user.email}\u0000:${user.password}`).toString('base64')}`,
      'Bearer not/a/token',
    ];
    for (const header of headers) assert.equal(await auth.authenticate(t.accountId, header), null, String(header));
    assert.deepEqual(q.kinds(), []);
  });

  describe('stampede protection', () => {
    it('64 concurrent first requests with the same Basic email:password header run one password lookup', async () => {
      const user = await agent();
      const { auth, q } = authenticator();
      const results = await burst(auth, user.auth, 64);
      assert.equal(results.length, 64);
      for (const result of results) assert.deepEqual(result, principal(user));
      assert.deepEqual(q.kinds(), ['password']);
    });

    it('64 concurrent first requests with the same Basic email/token:TOKEN header run one token lookup', async () => {
      const user = await agent();
      const token = await createToken(user.id);
      const { auth, q } = authenticator();
      const results = await burst(auth, basic(`${user.email}/token`, token), 64);
      for (const result of results) assert.deepEqual(result, principal(user));
      assert.deepEqual(q.kinds(), ['token']);

      // Bearer is another header, so one more lookup, shared by its own burst.
      const bearer = await burst(auth, `Bearer ${token}`, 64);
      for (const result of bearer) assert.deepEqual(result, principal(user));
      assert.deepEqual(q.kinds(), ['token', 'token']);
    });

    it('different headers are verified separately, each once', async () => {
      const [a, b] = [await agent(), await agent()];
      const { auth, q } = authenticator();
      const results = await Promise.all([...Array.from({ length: 16 }, () => a.auth), ...Array.from({ length: 16 }, () => b.auth)].map((h) => auth.authenticate(t.accountId, h)));
      results.slice(0, 16).forEach((r) => assert.deepEqual(r, principal(a)));
      results.slice(16).forEach((r) => assert.deepEqual(r, principal(b)));
      assert.deepEqual(q.kinds(), ['password', 'password']);
    });
  });

  describe('cached user, re-read every userRecheckMs', () => {
    it('after a success, requests within userRecheckMs run no query at all', async (tc) => {
      const clock = frozenClock(tc);
      const user = await agent();
      const token = await createToken(user.id);
      const tokenHeader = basic(`${user.email}/token`, token);
      const { auth, q } = authenticator({ userRecheckMs: 1_000 });
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(await auth.authenticate(t.accountId, tokenHeader), principal(user));
      q.reset();

      for (const offset of [0, 1, 500, 999]) {
        clock.at(offset);
        for (const result of await burst(auth, user.auth, 16)) assert.deepEqual(result, principal(user));
        for (const result of await burst(auth, tokenHeader, 16)) assert.deepEqual(result, principal(user));
        assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      }
      assert.deepEqual(q.kinds(), []);
    });

    it('with the default options too, a repeated header runs no query', async () => {
      const user = await agent();
      const { auth, q } = authenticator();
      await auth.authenticate(t.accountId, user.auth);
      q.reset();
      // Well within the default 1 s re-read interval: a burst of cached calls takes microseconds.
      for (const result of await burst(auth, user.auth, 100)) assert.deepEqual(result, principal(user));
      assert.deepEqual(q.kinds(), []);
    });

    it('once userRecheckMs has passed, 32 concurrent requests re-read the user row once, then trust it again', async (tc) => {
      const clock = frozenClock(tc);
      const user = await agent();
      const { auth, q } = authenticator({ userRecheckMs: 50 });
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      q.reset();

      clock.at(80);
      for (const result of await burst(auth, user.auth, 32)) assert.deepEqual(result, principal(user));
      assert.deepEqual(q.kinds(), ['recheck']);

      // The re-read restarts the interval: no query until it has passed again.
      clock.at(129);
      for (const result of await burst(auth, user.auth, 32)) assert.deepEqual(result, principal(user));
      assert.deepEqual(q.kinds(), ['recheck']);
      clock.at(131);
      for (const result of await burst(auth, user.auth, 32)) assert.deepEqual(result, principal(user));
      assert.deepEqual(q.kinds(), ['recheck', 'recheck']);
    });

    it('the same on the real clock: after a real 80 ms wait (userRecheckMs 50), 32 concurrent requests re-read the user once', async () => {
      const user = await agent();
      const { auth, q } = authenticator({ userRecheckMs: 50 });
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      q.reset();
      await sleep(80);
      for (const result of await burst(auth, user.auth, 32)) assert.deepEqual(result, principal(user));
      assert.deepEqual(q.kinds(), ['recheck']);
    });

    it('the re-read picks up a changed name and role, and the cache keeps them', async (tc) => {
      const clock = frozenClock(tc);
      const user = await agent();
      const { auth, q } = authenticator({ userRecheckMs: 50 });
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      await t.db.updateTable('users').set({ name: 'Renamed Agent', role: 'admin' }).where('id', '=', user.id).execute();
      q.reset();
      const renamed = { ...principal(user, 'admin'), name: 'Renamed Agent' };
      clock.at(80);
      assert.deepEqual(await burst(auth, user.auth, 32), Array.from({ length: 32 }, () => renamed));
      assert.deepEqual(q.kinds(), ['recheck']);
      // Served from the cache afterwards, with the new name and role.
      clock.at(100);
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), renamed);
      assert.deepEqual(q.kinds(), ['recheck']);
    });

    it('refuses a user deactivated by SQL once userRecheckMs has passed, for password and token headers', async (tc) => {
      const clock = frozenClock(tc);
      const user = await agent();
      const token = await createToken(user.id);
      const tokenHeader = `Bearer ${token}`;
      const { auth, q } = authenticator({ userRecheckMs: 50 });
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(await auth.authenticate(t.accountId, tokenHeader), principal(user));
      await t.db.updateTable('users').set({ active: false }).where('id', '=', user.id).execute();
      q.reset();

      clock.at(80);
      const results = await Promise.all([...Array.from({ length: 16 }, () => user.auth), ...Array.from({ length: 16 }, () => tokenHeader)].map((h) => auth.authenticate(t.accountId, h)));
      assert.deepEqual(results, Array.from({ length: 32 }, () => null));
      // One re-read per cached header, then one full verification per header (which refuses too).
      assert.deepEqual(
        { recheck: q.count('recheck'), password: q.count('password'), token: q.count('token'), other: q.count('other') },
        { recheck: 2, password: 1, token: 1, other: 0 },
      );

      // The refusal is not cached as a success: the next request is verified again, and refused.
      q.reset();
      assert.equal(await auth.authenticate(t.accountId, user.auth), null);
      assert.equal(await auth.authenticate(t.accountId, tokenHeader), null);
      assert.deepEqual(q.kinds(), ['password', 'token']);

      // Reactivated: accepted again.
      await t.db.updateTable('users').set({ active: true }).where('id', '=', user.id).execute();
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
    });

    it('refuses an old password once its change (new hash, credentials_version bumped) is seen', async (tc) => {
      const clock = frozenClock(tc);
      const user = await agent();
      const { auth, q } = authenticator({ userRecheckMs: 50 });
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      const newPassword = 'a brand new password';
      await t.db
        .updateTable('users')
        .set((eb) => ({ credentials_version: eb('credentials_version', '+', 1) }))
        .set({ password_hash: await hashPassword(newPassword) })
        .where('id', '=', user.id)
        .execute();
      q.reset();

      clock.at(80);
      assert.deepEqual(await burst(auth, user.auth, 16), Array.from({ length: 16 }, () => null));
      assert.deepEqual(q.kinds(), ['recheck', 'password']);
      assert.deepEqual(await auth.authenticate(t.accountId, basic(user.email, newPassword)), principal(user));
    });

    it('a bumped credentials_version makes the cached header be verified again in full, not trusted', async (tc) => {
      const clock = frozenClock(tc);
      const user = await agent();
      const token = await createToken(user.id);
      const tokenHeader = basic(`${user.email}/token`, token);
      const { auth, q } = authenticator({ userRecheckMs: 50 });
      await auth.authenticate(t.accountId, user.auth);
      await auth.authenticate(t.accountId, tokenHeader);
      // The version moves, but this password and this token are still valid (as when another token of the user is revoked).
      await t.db
        .updateTable('users')
        .set((eb) => ({ credentials_version: eb('credentials_version', '+', 1) }))
        .where('id', '=', user.id)
        .execute();
      // ...and then this token goes too, without a version bump: only the full verification can notice.
      await t.db.deleteFrom('api_tokens').where('user_id', '=', user.id).execute();
      q.reset();

      clock.at(80);
      assert.deepEqual(await burst(auth, user.auth, 16), Array.from({ length: 16 }, () => principal(user)));
      assert.deepEqual(await burst(auth, tokenHeader, 16), Array.from({ length: 16 }, () => null));
      assert.deepEqual(q.kinds(), ['recheck', 'password', 'recheck', 'token']);

      // The password header was cached again under the new version: trusted without any query.
      q.reset();
      clock.at(100);
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(q.kinds(), []);
    });
  });

  describe('forgetUser', () => {
    it('makes the next request of that user re-verify at once, for every cached header', async (tc) => {
      frozenClock(tc); // no time passes: only forgetUser can cause a query
      const user = await agent();
      const token = await createToken(user.id);
      const tokenHeader = `Bearer ${token}`;
      const other = await agent();
      const { auth, q } = authenticator({ userRecheckMs: 60_000 });
      for (const h of [user.auth, tokenHeader, other.auth]) assert.ok(await auth.authenticate(t.accountId, h));
      q.reset();

      // Another user, or the same id in another account: this user's headers stay cached.
      auth.forgetUser(t.accountId, other.id);
      auth.forgetUser(t.accountId + 1_000_000, user.id);
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(await auth.authenticate(t.accountId, tokenHeader), principal(user));
      assert.deepEqual(q.kinds(), []);
      assert.deepEqual(await auth.authenticate(t.accountId, other.auth), principal(other));
      assert.deepEqual(q.kinds(), ['password']);
      q.reset();

      auth.forgetUser(t.accountId, user.id);
      assert.deepEqual(await burst(auth, user.auth, 16), Array.from({ length: 16 }, () => principal(user)));
      assert.deepEqual(await burst(auth, tokenHeader, 16), Array.from({ length: 16 }, () => principal(user)));
      assert.deepEqual(await auth.authenticate(t.accountId, other.auth), principal(other));
      assert.deepEqual(q.kinds(), ['password', 'token']);
    });

    it('a change followed by forgetUser takes effect on the very next request', async (tc) => {
      frozenClock(tc);
      const user = await agent();
      const { auth, q } = authenticator({ userRecheckMs: 60_000 });
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      await t.db.updateTable('users').set({ active: false }).where('id', '=', user.id).execute();
      q.reset();
      // Without forgetUser the change is not seen before the re-read interval...
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(q.kinds(), []);
      // ...with it, at once.
      auth.forgetUser(t.accountId, user.id);
      assert.equal(await auth.authenticate(t.accountId, user.auth), null);
      assert.deepEqual(q.kinds(), ['password']);
    });
  });

  describe('forgetUser during a verification in flight', () => {
    it('a verification that straddles forgetUser is not cached, and requests after it do not join it', async (tc) => {
      frozenClock(tc);
      const user = await agent();
      const { auth, q } = authenticator({ userRecheckMs: 60_000 });

      // Not cached: started before forgetUser, finished after it.
      let held = q.holdNext('password');
      const before = auth.authenticate(t.accountId, user.auth);
      await held.reached;
      auth.forgetUser(t.accountId, user.id);
      held.release();
      assert.deepEqual(await before, principal(user), 'the request that asked before the change gets its answer');
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(q.kinds(), ['password', 'password'], 'the next request verified again: nothing was cached');
      q.reset();

      // Not joined: a request after forgetUser runs its own verification.
      auth.forgetUser(t.accountId, user.id);
      held = q.holdNext('password');
      const straddling = auth.authenticate(t.accountId, user.auth);
      await held.reached;
      auth.forgetUser(t.accountId, user.id);
      const after = auth.authenticate(t.accountId, user.auth);
      held.release();
      assert.deepEqual(await Promise.all([straddling, after]), [principal(user), principal(user)]);
      assert.deepEqual(q.kinds(), ['password', 'password'], 'the later request ran its own lookup');
      q.reset();
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(q.kinds(), [], 'the verification started after forgetUser was cached');
    });
  });

  describe('wrong credentials', () => {
    it('a wrong password is refused, never cached as a success, and the right one still works', async () => {
      const user = await agent();
      const wrong = basic(user.email, `${user.password}-not`);
      const { auth, q } = authenticator();

      assert.deepEqual(await burst(auth, wrong, 32), Array.from({ length: 32 }, () => null));
      assert.deepEqual(q.kinds(), ['password'], 'concurrent wrong attempts share one verification');
      assert.equal(await auth.authenticate(t.accountId, wrong), null);
      assert.deepEqual(q.kinds(), ['password', 'password'], 'a refusal is not remembered');

      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(q.kinds(), ['password', 'password', 'password']);

      // The cache is keyed by the whole header: a cached success does not vouch for a wrong password.
      assert.equal(await auth.authenticate(t.accountId, wrong), null);
      assert.equal(await auth.authenticate(t.accountId, basic(user.email.toUpperCase(), `${user.password}-not`)), null);
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(q.kinds(), ['password', 'password', 'password', 'password', 'password']);
    });

    it('concurrent right and wrong passwords for one user each get their own answer', async () => {
      const user = await agent();
      const wrong = basic(user.email, 'definitely wrong');
      const { auth } = authenticator();
      const headers = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? user.auth : wrong));
      const results = await Promise.all(headers.map((h) => auth.authenticate(t.accountId, h)));
      results.forEach((r, i) => (i % 2 === 0 ? assert.deepEqual(r, principal(user)) : assert.equal(r, null)));
    });

    it('a header verified in one account is not accepted in another', async () => {
      const user = await agent();
      const { auth, q } = authenticator();
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.equal(await auth.authenticate(t.accountId + 1_000_000, user.auth), null);
      assert.deepEqual(q.kinds(), ['password', 'password']);
    });
  });

  describe('refresh before expiry', () => {
    it('a request in the last tenth of the TTL is answered from the cache at once and starts one background re-verification that renews the entry', async (tc) => {
      const clock = frozenClock(tc);
      const user = await agent();
      const { auth, q } = authenticator({ cacheTtlMs: 400, userRecheckMs: 400 });
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user)); // cached until 400
      assert.deepEqual(q.kinds(), ['password']);

      // Before the last tenth: no refresh.
      clock.at(300);
      assert.deepEqual(await burst(auth, user.auth, 8), Array.from({ length: 8 }, () => principal(user)));
      assert.deepEqual(q.kinds(), ['password']);

      // In the last tenth: the answer comes from the cache while the re-verification is still held back.
      const held = q.holdNext('password');
      try {
        clock.at(370);
        const early = 'a request in the refresh window waited for the re-verification';
        assert.deepEqual(await within(auth.authenticate(t.accountId, user.auth), early), principal(user));
        await held.reached;
        assert.deepEqual(q.kinds(), ['password', 'password']);
        // Further requests meanwhile do not start another one.
        clock.at(399);
        assert.deepEqual(await within(burst(auth, user.auth, 32), early), Array.from({ length: 32 }, () => principal(user)));
        assert.deepEqual(q.kinds(), ['password', 'password']);
      } finally {
        held.release();
      }
      // Give the re-verification time to finish its hash with the clock still before the expiry. (Were it
      // slower than this, the request below would wait for that same verification: still no new lookup,
      // so this wait cannot make the test fail; it makes sure the renewal is the refresh's own doing.)
      await sleep(300);

      // Past the original expiry: the renewed entry answers. No new lookup.
      clock.at(401);
      assert.deepEqual(await burst(auth, user.auth, 32), Array.from({ length: 32 }, () => principal(user)));
      clock.at(600);
      assert.deepEqual(await burst(auth, user.auth, 32), Array.from({ length: 32 }, () => principal(user)));
      assert.deepEqual(q.kinds(), ['password', 'password']);

      // Without a refresh the entry does expire: a fresh authenticator, no request in the window.
      const plain = authenticator({ cacheTtlMs: 400, userRecheckMs: 400 });
      clock.at(1_000);
      await plain.auth.authenticate(t.accountId, user.auth);
      clock.at(1_359);
      await plain.auth.authenticate(t.accountId, user.auth);
      clock.at(1_401);
      assert.deepEqual(await plain.auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(plain.q.kinds(), ['password', 'password']);
    });

    it('a background re-verification that finds the password changed drops the entry before it expires', async (tc) => {
      const clock = frozenClock(tc);
      const user = await agent();
      const { auth, q } = authenticator({ cacheTtlMs: 400, userRecheckMs: 400 });
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      // Changed elsewhere without a version bump: only re-verifying the header can notice.
      await t.db.updateTable('users').set({ password_hash: await hashPassword('changed elsewhere') }).where('id', '=', user.id).execute();

      clock.at(370);
      assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user)); // still cached; starts the refresh
      assert.deepEqual(q.kinds(), ['password', 'password']);
      // While the refresh runs the old entry still answers; once it has failed, the entry is gone and
      // the next request (still before the original expiry) is verified, and refused.
      let result: Principal | null = principal(user);
      for (let i = 0; i < 500 && result !== null; i += 1) {
        await sleep(10);
        result = await auth.authenticate(t.accountId, user.auth);
      }
      assert.equal(result, null, 'the entry outlived a failed re-verification');
      assert.deepEqual(q.kinds(), ['password', 'password', 'password']);
    });
  });

  describe('options', () => {
    it('cacheEnabled: false runs the lookup on every request, concurrent ones included', async () => {
      const user = await agent();
      const token = await createToken(user.id);
      const { auth, q } = authenticator({ cacheEnabled: false });
      for (let i = 0; i < 5; i += 1) assert.deepEqual(await auth.authenticate(t.accountId, user.auth), principal(user));
      assert.deepEqual(q.kinds(), Array.from({ length: 5 }, () => 'password'));
      q.reset();
      assert.deepEqual(await burst(auth, user.auth, 8), Array.from({ length: 8 }, () => principal(user)));
      assert.deepEqual(q.kinds(), Array.from({ length: 8 }, () => 'password'));
      q.reset();
      for (let i = 0; i < 3; i += 1) assert.deepEqual(await auth.authenticate(t.accountId, `Bearer ${token}`), principal(user));
      assert.deepEqual(q.kinds(), ['token', 'token', 'token']);
    });

    it('cacheMaxEntries bounds the cache: the oldest header is evicted and verified again', async (tc) => {
      frozenClock(tc);
      const [a, b, c] = [await agent(), await agent(), await agent()];
      const { auth, q } = authenticator({ cacheMaxEntries: 2, userRecheckMs: 60_000 });
      for (const u of [a, b, c]) assert.deepEqual(await auth.authenticate(t.accountId, u.auth), principal(u));
      assert.deepEqual(q.kinds(), ['password', 'password', 'password']);
      q.reset();
      assert.deepEqual(await auth.authenticate(t.accountId, b.auth), principal(b));
      assert.deepEqual(await auth.authenticate(t.accountId, c.auth), principal(c));
      assert.deepEqual(q.kinds(), []);
      assert.deepEqual(await auth.authenticate(t.accountId, a.auth), principal(a));
      assert.deepEqual(q.kinds(), ['password']);
    });
  });

  // Revocation through the API while the header is cached (DELETE /api/v2/api_tokens/:id) is covered
  // by test/users/users-groups.test.ts ('DELETE revokes immediately, even though the verified header is cached').
});
