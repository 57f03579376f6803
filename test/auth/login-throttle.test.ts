import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../../src/errors.js';
import { ApiError, apiErrorFor } from '../../src/http/errors.js';
import { LoginThrottle } from '../../src/auth/login-throttle.js';
import { basic, startTestApp, STORE_KIND, type TestApp } from '../helpers/app.js';
import { expectStatus } from '../helpers/api.js';

/** A throttle on a clock the test moves. */
function throttleAt(options: ConstructorParameters<typeof LoginThrottle>[0] = {}) {
  const clock = { now: 1_000_000 };
  return { clock, throttle: new LoginThrottle({ windowMs: 60_000, now: () => clock.now, ...options }) };
}

const wrong = () => Promise.resolve(false);
const right = () => Promise.resolve(true);

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => assert.fail('expected a 429'),
    (e: unknown) => (e instanceof DomainError ? apiErrorFor(e) : e),
  );
  assert.ok(error instanceof ApiError, String(error));
  assert.equal(error.statusCode, 429);
  assert.equal(error.body['error'], 'TooManyRequests');
  return error;
}

describe('LoginThrottle', () => {
  it('locks an account+email after its failures, before running the check, until the window ends', async () => {
    const { clock, throttle } = throttleAt({ perEmail: 3, perAddress: 100 });
    const who = { accountId: 1, email: 'Sally@example.com', clientAddress: '10.0.0.1' };
    for (let i = 0; i < 3; i++) assert.equal(await throttle.attempt(who, wrong), false);
    let ran = false;
    const error = await refusal(
      throttle.attempt({ ...who, email: 'sally@EXAMPLE.com' }, async () => {
        ran = true;
        return true;
      }),
    );
    assert.equal(ran, false, 'a locked attempt must not reach the password hash');
    assert.equal(error.headers['retry-after'], '60');
    assert.match(String(error.body['description']), /Try again in 60 seconds/);
    clock.now += 30_000;
    assert.equal((await refusal(throttle.attempt(who, right))).headers['retry-after'], '30');
    // Same email in another account, another email: not locked.
    assert.equal(await throttle.attempt({ ...who, accountId: 2 }, right), true);
    assert.equal(await throttle.attempt({ ...who, email: 'other@example.com' }, right), true);
    clock.now += 30_001;
    assert.equal(await throttle.attempt(who, right), true);
  });

  it('a success clears the email’s failures', async () => {
    const { throttle } = throttleAt({ perEmail: 3 });
    const who = { accountId: 1, email: 'a@example.com' };
    await throttle.attempt(who, wrong);
    await throttle.attempt(who, wrong);
    await throttle.attempt(who, right);
    await throttle.attempt(who, wrong);
    await throttle.attempt(who, wrong);
    assert.equal(await throttle.attempt(who, right), true);
  });

  it('locks a client address that fails across many emails', async () => {
    const { throttle } = throttleAt({ perEmail: 100, perAddress: 5 });
    for (let i = 0; i < 5; i++) await throttle.attempt({ accountId: 1, email: `guess${i}@example.com`, clientAddress: '203.0.113.9' }, wrong);
    await refusal(throttle.attempt({ accountId: 1, email: 'fresh@example.com', clientAddress: '203.0.113.9' }, right));
    assert.equal(await throttle.attempt({ accountId: 1, email: 'fresh@example.com', clientAddress: '203.0.113.10' }, right), true);
  });

  it('a re-check of a known header skips the lockout and counts nothing', async () => {
    const { throttle } = throttleAt({ perEmail: 1 });
    const who = { accountId: 1, email: 'k@example.com' };
    await throttle.attempt(who, wrong);
    await refusal(throttle.attempt(who, right));
    assert.equal(await throttle.attempt({ ...who, known: true }, right), true);
    assert.equal(await throttle.attempt({ ...who, known: true }, wrong), false);
    await refusal(throttle.attempt(who, right)); // still locked: the known checks cleared nothing
  });

  it('runs at most maxConcurrent checks, lets known re-checks overtake the queue, refuses past maxQueued', async () => {
    const { throttle } = throttleAt({ maxConcurrent: 2, maxQueued: 3, perEmail: 1000, perAddress: 1000 });
    const order: string[] = [];
    let running = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const slow = (label: string) => () =>
      new Promise<boolean>((resolve) => {
        running += 1;
        peak = Math.max(peak, running);
        order.push(label);
        releases.push(() => {
          running -= 1;
          resolve(false);
        });
      });
    const pending = [0, 1, 2, 3, 4].map((i) => throttle.attempt({ accountId: 1, email: `u${i}@example.com` }, slow(`unknown${i}`)));
    await refusal(throttle.attempt({ accountId: 1, email: 'u5@example.com' }, slow('unknown5')));
    const known = throttle.attempt({ accountId: 1, email: 'known@example.com', known: true }, slow('known'));
    assert.deepEqual(throttle.load, { running: 2, queued: 4 });
    while (releases.length > 0 || throttle.load.queued > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all([...pending, known]);
    assert.equal(peak, 2);
    assert.deepEqual(order, ['unknown0', 'unknown1', 'known', 'unknown2', 'unknown3', 'unknown4']);
    assert.deepEqual(throttle.load, { running: 0, queued: 0 });
  });

  it('takes waiting checks in turn by client address: a sign-in from elsewhere overtakes a flood, whose excess is refused', async () => {
    const { throttle } = throttleAt({ maxConcurrent: 1, maxQueued: 100, maxQueuedPerAddress: 4, perEmail: 1000, perAddress: 1000 });
    const order: string[] = [];
    const releases: Array<() => void> = [];
    const slow = (label: string) => () =>
      new Promise<boolean>((resolve) => {
        order.push(label);
        releases.push(() => resolve(false));
      });
    const flood = (address: string, i: number) =>
      throttle.attempt({ accountId: 1, email: `victim${i}@example.com`, clientAddress: address }, slow(`${address}#${i}`));
    const pending = [0, 1, 2, 3, 4].map((i) => flood('10.0.0.1', i));
    pending.push(...[0, 1].map((i) => flood('10.0.0.2', i)));
    // 10.0.0.1 has one running and four waiting: its sixth is refused at once, without waiting.
    await refusal(flood('10.0.0.1', 5));
    pending.push(throttle.attempt({ accountId: 1, email: 'agent@example.com', clientAddress: '192.0.2.7' }, slow('agent')));
    while (releases.length > 0 || throttle.load.queued > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    // Each address in turn: the agent waits for one check of each flooding address, not for all of them.
    assert.deepEqual(order, ['10.0.0.1#0', '10.0.0.1#1', '10.0.0.2#0', 'agent', '10.0.0.1#2', '10.0.0.2#1', '10.0.0.1#3', '10.0.0.1#4']);
  });

  it('keeps a bounded number of keys', async () => {
    const { throttle } = throttleAt({ maxKeys: 10, perEmail: 1, perAddress: 1000 });
    await throttle.attempt({ accountId: 1, email: 'first@example.com' }, wrong);
    for (let i = 0; i < 20; i++) await throttle.attempt({ accountId: 1, email: `spray${i}@example.com` }, wrong);
    // The oldest lockout was dropped to make room; the newest is still held.
    assert.equal(await throttle.attempt({ accountId: 1, email: 'first@example.com' }, right), true);
    await refusal(throttle.attempt({ accountId: 1, email: 'spray19@example.com' }, right));
  });
});

describe(`password guessing over HTTP (${STORE_KIND})`, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, { auth: { throttle: new LoginThrottle({ perEmail: 3, perAddress: 8 }) } });
  });
  after(async () => t.close());

  const me = (auth: string, remoteAddress = '198.51.100.1') => t.request({ method: 'GET', url: '/api/v2/users/me', auth, remoteAddress });

  it('after 3 wrong passwords the email gets 429 TooManyRequests with Retry-After, even with the right one', async () => {
    const agent = await t.createUser('agent');
    for (let i = 0; i < 3; i++) expectStatus(await me(basic(agent.email, `wrong ${i}`)), 401);
    const locked = await me(agent.auth);
    expectStatus(locked, 429);
    assert.equal(locked.json<{ error: string }>().error, 'TooManyRequests');
    assert.ok(Number(locked.headers['retry-after']) > 800, String(locked.headers['retry-after']));
  });

  it('a header verified before the attack keeps working while its email is locked', async () => {
    const agent = await t.createUser('agent');
    expectStatus(await me(agent.auth, '198.51.100.2'), 200); // cached
    for (let i = 0; i < 3; i++) expectStatus(await me(basic(agent.email, `wrong ${i}`), '198.51.100.3'), 401);
    expectStatus(await me(basic(agent.email, 'wrong again'), '198.51.100.3'), 429);
    expectStatus(await me(agent.auth, '198.51.100.2'), 200);
  });

  it('unknown emails count like wrong passwords, and one address guessing many emails is locked', async () => {
    const address = '198.51.100.4';
    for (let i = 0; i < 8; i++) expectStatus(await me(basic(`nobody${i}@example.com`, 'guess'), address), 401);
    const agent = await t.createUser('agent');
    expectStatus(await me(agent.auth, address), 429);
    expectStatus(await me(agent.auth, '198.51.100.5'), 200);
  });

  it('the own-password change counts its wrong previous_password against the same lockout', async () => {
    const agent = await t.createUser('agent');
    const token = await t.request({ method: 'POST', url: '/api/v2/api_tokens', payload: { api_token: { user_id: agent.id } } });
    const bearer = `Bearer ${token.json<{ api_token: { token: string } }>().api_token.token}`;
    const change = (previous: string) =>
      t.request({ method: 'PUT', url: `/api/v2/users/${agent.id}/password`, payload: { previous_password: previous, password: 'a new password' }, auth: bearer, remoteAddress: '198.51.100.6' });
    for (let i = 0; i < 3; i++) expectStatus(await change(`wrong ${i}`), 422);
    expectStatus(await change(agent.password), 429);
    expectStatus(await me(agent.auth, '198.51.100.7'), 429);
  });
});
