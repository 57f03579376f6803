/**
 * Part 6, wrong-password flood beside real logins: from four client addresses (127.0.0.2–5), many
 * wrong-password attempts, half by console sign-in (POST /api/v2/sideline/session), half by Basic
 * auth (GET /api/v2/users/me), against a few existing agents' emails and ever-new unknown ones;
 * meanwhile a real agent signs in from 127.0.0.1 with the right password again and again (console
 * sign-in, which is never cached, and Basic). The flood must be answered 401 until throttled, then
 * 429 with Retry-After (src/auth/login-throttle.ts), nothing else; every real login must succeed.
 * Printed: the counts by answer, and the real logins' p50/p99 (not asserted).
 */
import { rawRequest, type RawResponse } from '../lib/http.js';
import { basicAuth } from '../lib/http.js';
import { startServer, type SidelineProcess } from '../lib/procs.js';
import { check, latencySummary, log, section } from '../lib/report.js';
import { ADMIN_AUTH, isRecord, openStoreHandle, sleep } from '../lib/sideline.js';

const FLOOD_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const AGENT = { name: 'Real Agent', email: 'real.agent@example.com', password: 'the-right-password-1' };
const TARGETS = ['target.one@example.com', 'target.two@example.com'];

interface Attempt {
  address: string;
  via: 'console' | 'basic';
  status: number;
  retryAfter: string | undefined;
  ms: number;
  failure?: string;
}

function signIn(port: number, email: string, password: string, localAddress?: string): Promise<RawResponse> {
  return rawRequest(
    port,
    { method: 'POST', target: '/api/v2/sideline/session', headers: [['Content-Type', 'application/json']], body: JSON.stringify({ email, password }), ...(localAddress ? { localAddress } : {}) },
    60_000,
  );
}

function basicMe(port: number, email: string, password: string, localAddress?: string): Promise<RawResponse> {
  return rawRequest(port, { method: 'GET', target: '/api/v2/users/me', headers: [['Authorization', basicAuth(email, password)]], ...(localAddress ? { localAddress } : {}) }, 60_000);
}

async function createAgent(port: number, user: { name: string; email: string; password: string }): Promise<boolean> {
  const res = await rawRequest(port, {
    method: 'POST',
    target: '/api/v2/users',
    headers: [['Authorization', ADMIN_AUTH], ['Content-Type', 'application/json']],
    body: JSON.stringify({ user: { ...user, role: 'agent' } }),
  });
  return res.status === 201 && isRecord(res.json) && isRecord(res.json['user']);
}

export async function loginFloodPart(options: { short: boolean }): Promise<void> {
  section('Part 6: a wrong-password flood from several addresses beside real logins');
  const sizes = options.short ? { perAddress: 160, concurrency: 4, realLogins: 15 } : { perAddress: 400, concurrency: 6, realLogins: 40 };
  const label = 'loginflood';
  const store = await openStoreHandle('pglite', 'loginflood');
  let server: SidelineProcess | null = null;
  try {
    server = await startServer(label, store.env);
    const port = server.port;
    const made = await Promise.all([AGENT, ...TARGETS.map((email, i) => ({ name: `Target ${i}`, email, password: `target-password-${i}` }))].map((u) => createAgent(port, u)));
    check(`${label}: setup agents`, made.every(Boolean), `${made.filter(Boolean).length} of ${made.length} created`);

    let flooding = true;
    const attempts: Attempt[] = [];
    const flood = Promise.all(
      FLOOD_ADDRESSES.flatMap((address, a) =>
        Array.from({ length: sizes.concurrency }, async (_, w) => {
          for (let i = w; i < sizes.perAddress; i += sizes.concurrency) {
            // One in four at an existing agent (their email is locked after 10 failures), the rest at new unknown emails.
            const email = i % 4 === 0 ? TARGETS[(a + i) % TARGETS.length]! : `guess-${a}-${i}@example.com`;
            const via = i % 2 === 0 ? 'console' : 'basic';
            const res = via === 'console' ? await signIn(port, email, `wrong-${i}`, address) : await basicMe(port, email, `wrong-${i}`, address);
            attempts.push({ address, via, status: res.status, retryAfter: res.headers['retry-after'], ms: res.ms, ...(res.failure ? { failure: res.failure } : {}) });
          }
        }),
      ),
    ).finally(() => (flooding = false));

    const real: Array<{ via: 'console' | 'basic'; status: number; ms: number }> = [];
    const realLogins = (async () => {
      // Start once the flood is in full swing, and keep going while it lasts (at least realLogins times).
      await sleep(300);
      for (let i = 0; i < sizes.realLogins || (flooding && i < sizes.realLogins * 10); i++) {
        const session = await signIn(port, AGENT.email, AGENT.password);
        real.push({ via: 'console', status: session.status, ms: session.ms });
        const me = await basicMe(port, AGENT.email, AGENT.password);
        real.push({ via: 'basic', status: me.status, ms: me.ms });
        await sleep(100);
      }
    })();
    await Promise.all([flood, realLogins]);

    const byStatus = new Map<string, number>();
    for (const a of attempts) byStatus.set(`${a.via} ${a.status}`, (byStatus.get(`${a.via} ${a.status}`) ?? 0) + 1);
    log(`${label}: ${attempts.length} wrong-password attempts from ${FLOOD_ADDRESSES.length} addresses: ${[...byStatus].sort().map(([k, n]) => `${k}: ${n}`).join(', ')}`);
    for (const address of FLOOD_ADDRESSES) {
      const mine = attempts.filter((a) => a.address === address);
      log(`${label}:   ${address}: ${mine.filter((a) => a.status === 401).length} × 401, ${mine.filter((a) => a.status === 429).length} × 429, ${mine.filter((a) => a.status !== 401 && a.status !== 429).length} other`);
    }
    const refused = attempts.filter((a) => a.status === 429);
    const unthrottled = attempts.filter((a) => a.status === 401);
    log(`${label}: flood answers: 401 ${latencySummary(unthrottled.map((a) => a.ms))}; 429 ${latencySummary(refused.map((a) => a.ms))}`);
    const realConsole = real.filter((r) => r.via === 'console');
    const realBasic = real.filter((r) => r.via === 'basic');
    log(`${label}: real console sign-ins during the flood: ${latencySummary(realConsole.map((r) => r.ms))}`);
    log(`${label}: real Basic logins during the flood: ${latencySummary(realBasic.map((r) => r.ms))}`);

    const other = attempts.filter((a) => a.status !== 401 && a.status !== 429);
    check(`${label}: every flood attempt was answered 401 or 429`, attempts.length > 0 && other.length === 0, `${other.length} other answers`, other.slice(0, 12).map((a) => `${a.address} ${a.via}: ${a.status} ${a.failure ?? ''}`));
    const badRetry = refused.filter((a) => !/^[1-9]\d*$/.test(a.retryAfter ?? ''));
    check(`${label}: every 429 carries Retry-After (whole seconds)`, refused.length > 0 && badRetry.length === 0, `${refused.length} × 429, ${badRetry.length} without a valid Retry-After`, badRetry.slice(0, 12).map((a) => `${a.address} ${a.via}: Retry-After ${String(a.retryAfter)}`));
    const notThrottled = FLOOD_ADDRESSES.filter((address) => {
      const mine = attempts.filter((a) => a.address === address);
      // Once throttled, an address stays throttled for the window: its last attempts are all 429.
      return mine.length === 0 || mine.slice(-sizes.concurrency).some((a) => a.status !== 429);
    });
    check(`${label}: every flooding address ended throttled (its last attempts 429)`, notThrottled.length === 0, `${FLOOD_ADDRESSES.length - notThrottled.length} of ${FLOOD_ADDRESSES.length}`, notThrottled);
    const failedReal = real.filter((r) => (r.via === 'console' ? r.status !== 201 : r.status !== 200));
    check(`${label}: every real login succeeded during the flood`, real.length >= sizes.realLogins * 2 && failedReal.length === 0, `${real.length - failedReal.length} of ${real.length} (console 201, Basic 200)`, failedReal.map((r) => `${r.via}: ${r.status}`));
    check(`${label}: the server is up after the flood`, server.alive());
    const errors = server.errorLines();
    check(`${label}: no error in the server log`, errors.length === 0, `${errors.length} error lines`, errors);
  } finally {
    await server?.stop();
    await store.cleanup();
  }
}
