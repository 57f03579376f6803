/**
 * `npm run bench`: Sideline against a bare Fastify baseline, on PGlite and PostgreSQL, in one run.
 * See bench/README.md for what is measured and how to read it.
 *
 * env: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 64; 16 is always reported too),
 *      BENCH_FULL=1 (adds the 1M growth level on PostgreSQL), BENCH_RELAY_N (default 5000; the embedded store queues at most 1,000),
 *      BENCH_ONLY=startup,throughput,ceiling,auth,relay,stream,webhooks,growth,console,migration (default all; ceiling
 *      needs throughput and PostgreSQL),
 *      BENCH_STORES=pglite,postgres (default both),
 *      BENCH_WORKLOADS=Show,List (default all: Show, List, Events, Create, Reply, Update; the throughput section's workloads, by first word),
 *      BENCH_STARTUP_RUNS (5), BENCH_STREAMS (100), BENCH_STREAM_WRITES (200), BENCH_WEBHOOK_N (500), BENCH_MIGRATION_N (300), BENCH_PROFILE=1 (CPU profile of the
 *      PostgreSQL server during the throughput workloads), BENCH_PG_URL (default
 *      postgres://postgres@127.0.0.1:5432/postgres)
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ensureAccountAndAdmin } from '../src/accounts/accounts.js';
import { sql } from 'kysely';
import type { StoreKind } from '../src/db/store.js';
import { CREATE_BODY, REPLY_BODY, UPDATE_BODIES, createFixtures, queueEmails, scPath, type Fixtures } from './lib/fixtures.js';
import { runLoad, type LoadSpec, type Measured } from './lib/load.js';
import { killAllChildren, peakRssMiB, ROOT, spawnTs, systemBusySeconds } from './lib/processes.js';
import { hottest } from './lib/profile.js';
import { percentile, renderText, writeReport, type Flatness, type LoadRow, type Report, type Target } from './lib/report.js';
import { conversationOf, countConversations, seedContext, seedConversations } from './lib/seed.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, HOST, api, basic, burst, startBaseline, startInProcess, startSideline, type Server } from './lib/sideline.js';
import { startSmtpSink, type SinkKind } from './lib/smtp-sink.js';
import { startupFigures, streamFigures, webhookFigures } from './lib/live.js';
import { pgbench, pgbenchMissing, stackCeiling } from './lib/ceiling.js';
import { measureConsole } from './lib/console.js';
import { migrationFigures } from './lib/migration.js';
import { backendPids, createStore, liveStores, postgresReachable, type BenchStore } from './lib/stores.js';

// ---------------------------------------------------------------- settings

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name} must be a number between ${min} and ${max}, got "${raw}"`);
  return value;
}

const DURATION = intEnv('BENCH_DURATION', 10, 1, 600);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 64, 1, 1024);
const SECONDARY = 16;
const CONNECTION_SET = CONNECTIONS === SECONDARY ? [CONNECTIONS] : [CONNECTIONS, SECONDARY];
const WARMUP = Math.min(2, Math.max(1, Math.round(DURATION / 5)));
const FULL = process.env['BENCH_FULL'] === '1';
const RELAY_N = intEnv('BENCH_RELAY_N', 5000, 1, 100_000);
/** The embedded store queues fewer (its creates are slower); PostgreSQL's relay target is a 5,000-message backlog. */
const relayCount = (kind: StoreKind) => (kind === 'pglite' ? Math.min(RELAY_N, 1000) : RELAY_N);
const PROFILE = process.env['BENCH_PROFILE'] === '1';
const QUIET_WAIT = intEnv('BENCH_QUIET_WAIT', 0, 0, 600);
const STORES = new Set((process.env['BENCH_STORES'] ?? 'pglite,postgres').split(',').map((s) => s.trim()));
/** The throughput section's workloads by the first word of their names (a profile of one workload alone). */
const WORKLOAD_NAMES = process.env['BENCH_WORKLOADS'] ? new Set(process.env['BENCH_WORKLOADS'].split(',').map((s) => s.trim().toLowerCase())) : null;
const SECTIONS = new Set((process.env['BENCH_ONLY'] ?? 'startup,throughput,ceiling,auth,relay,stream,webhooks,growth,console,migration').split(',').map((s) => s.trim()));
const STARTUP_RUNS = intEnv('BENCH_STARTUP_RUNS', 5, 1, 50);
const STREAMS = intEnv('BENCH_STREAMS', 100, 1, 2000);
const STREAM_WRITES = intEnv('BENCH_STREAM_WRITES', 200, 1, 100_000);
const WEBHOOK_N = intEnv('BENCH_WEBHOOK_N', 500, 1, 100_000);
const MIGRATION_N = intEnv('BENCH_MIGRATION_N', 300, 1, 100_000);
const CONSOLE_VISITS = intEnv('BENCH_CONSOLE_VISITS', 10, 1, 1000);
const CONSOLE_REPLIES = intEnv('BENCH_CONSOLE_REPLIES', 10, 1, 1000);
const RESULTS_DIR = process.env['BENCH_RESULTS_DIR'] || join(ROOT, 'bench', 'results');
const PROFILE_DIR = join(RESULTS_DIR, 'profiles');

const STORE_LABEL: Record<StoreKind, string> = { pglite: 'PGlite', postgres: 'PostgreSQL' };

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() ? '+dirty src' : '';
    return sha + dirty;
  } catch {
    return 'unknown';
  }
}

const report: Report = {
  startedAt: new Date().toISOString(),
  environment: {
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    commit: gitCommit(),
  },
  settings: { duration_s: DURATION, warmup_s: WARMUP, connections: CONNECTION_SET.join('+'), full: FULL, relay_n: RELAY_N, quiet_wait_s: QUIET_WAIT },
  showBodyBytes: null,
  rows: [],
  relay: [],
  rss: [],
  flatness: [],
  figures: [],
  ceilings: [],
  targets: [],
  notes: [],
};

// ---------------------------------------------------------------- cleanup on signals

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping children and removing temporary stores`);
    killAllChildren();
    void Promise.allSettled(liveStores().map((s) => s.destroy())).finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------- helpers

/**
 * Credentials as a Zendesk client sends them: Basic, on every request. The server remembers a
 * verified header for 60 s, keyed by the header's exact text; so that no measured run straddles an
 * expiry (which makes every connection in flight re-run scrypt at once, measured on its own in the
 * auth section), each run gets a header text the server has not seen (the Basic scheme allows any
 * run of spaces after "Basic") and one request primes the cache before the load starts.
 */
let headerVariant = 0;
type Credential = { login: string; secret: string };
const PASSWORD: Credential = { login: ADMIN_EMAIL, secret: ADMIN_PASSWORD };
function freshHeader(c: Credential): string {
  headerVariant++;
  return `Basic${' '.repeat(headerVariant)}${Buffer.from(`${c.login}:${c.secret}`).toString('base64')}`;
}

function spec(server: Server, method: LoadSpec['method'], paths: string[], connections: number, extra: Partial<LoadSpec> & { credential?: Credential } = {}): LoadSpec {
  const { credential, ...rest } = extra;
  return {
    url: server.url,
    method,
    paths,
    headers: {
      authorization: freshHeader(credential ?? PASSWORD),
      host: `${HOST}:${server.port}`,
      ...(method !== 'GET' ? { 'content-type': 'application/json' } : {}),
    },
    connections,
    durationSeconds: DURATION,
    warmupSeconds: WARMUP,
    ...rest,
  };
}

/**
 * On a shared machine: waits (at most BENCH_QUIET_WAIT seconds) until the rest of the machine uses
 * less than a quarter of a core, measured over 1 s while nothing of ours is running.
 */
async function waitForQuiet(): Promise<void> {
  if (QUIET_WAIT <= 0) return;
  const deadline = Date.now() + QUIET_WAIT * 1000;
  let busy = Infinity;
  while (Date.now() < deadline) {
    const before = systemBusySeconds();
    await new Promise((r) => setTimeout(r, 1000));
    busy = systemBusySeconds() - before;
    if (busy < 0.25) return;
  }
  log(`  (the machine stayed busy: others used ${Math.round(busy * 100)}% CPU over the last second of a ${QUIET_WAIT}s wait)`);
}

async function measure(label: string, server: Server, load: LoadSpec, store: BenchStore | null): Promise<Measured> {
  await waitForQuiet();
  log(`${label}: ${load.method} ${load.paths[0]}${load.paths.length > 1 ? ` (+${load.paths.length - 1} more)` : ''} × ${load.connections} connections, ${load.durationSeconds}s`);
  if (store) {
    const prime = await api(server.port, 'GET', '/api/v2/users/me.json', undefined, load.headers['authorization']);
    if (prime.status !== 200) throw new Error(`priming the credential answered ${prime.status}: ${prime.text}`);
  }
  const database = store?.database;
  const result = await runLoad(load, { serverPid: server.child.pid, ...(database ? { postgresPids: () => backendPids(database) } : {}) });
  log(
    `  → ${Math.round(result.requestsPerSecond)} req/s, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms` +
      (result.non2xx || result.errors ? `  (non-2xx ${result.non2xx} ${JSON.stringify(result.statuses)}, errors ${result.errors})` : '') +
      (result.otherCpuPct !== null && result.otherCpuPct > 25 ? `  [others used ${Math.round(result.otherCpuPct)}% CPU meanwhile]` : ''),
  );
  return result;
}

function recordRss(processLabel: string, server: Server): void {
  report.rss.push({ process: processLabel, peakMiB: peakRssMiB(server.child.pid) });
}

async function withServer<T>(start: () => Promise<Server>, fn: (server: Server) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

async function withStore<T>(kind: StoreKind, purpose: string, fn: (store: BenchStore) => Promise<T>): Promise<T> {
  const store = await createStore(kind, purpose);
  try {
    return await fn(store);
  } finally {
    await store.destroy();
  }
}

// ---------------------------------------------------------------- sections

const baselineRps = new Map<number, number>();

interface Workload {
  name: string;
  method: LoadSpec['method'];
  paths: (f: Fixtures) => string[];
  body?: string;
  bodies?: string[];
}

const WORKLOADS: Workload[] = [
  { name: 'Show', method: 'GET', paths: (f) => [f.show.path] },
  { name: 'List (50)', method: 'GET', paths: (f) => [f.list.path] },
  { name: 'Events list (20)', method: 'GET', paths: (f) => [f.events.path] },
  { name: 'Create (email)', method: 'POST', paths: (f) => f.createPaths, body: CREATE_BODY },
  { name: 'Reply', method: 'POST', paths: (f) => f.replyPaths, body: REPLY_BODY },
  { name: 'Update', method: 'PUT', paths: (f) => f.updatePaths, bodies: UPDATE_BODIES },
];

function selectedWorkloads(): Workload[] {
  return WORKLOADS.filter((w) => !WORKLOAD_NAMES || WORKLOAD_NAMES.has(w.name.split(' ')[0]!.toLowerCase()));
}

async function runBaseline(bodyBytes: number): Promise<void> {
  await withServer(
    () => startBaseline(bodyBytes),
    async (server) => {
      const check = await api(server.port, 'GET', '/api/v2/tickets/1/side_conversations/x.json');
      if (check.text.length !== bodyBytes) report.notes.push(`baseline body is ${check.text.length} bytes, wanted ${bodyBytes}`);
      for (const connections of CONNECTION_SET) {
        const result = await measure('baseline', server, spec(server, 'GET', ['/api/v2/tickets/1/side_conversations/00000000-0000-4000-8000-000000000000.json'], connections), null);
        baselineRps.set(connections, result.requestsPerSecond);
        report.rows.push({ section: 'throughput', server: 'Baseline (bare Fastify)', workload: 'GET same-size JSON', connections, result, ratio: 1 });
      }
      recordRss('Baseline (bare Fastify)', server);
    },
  );
}

async function throughputSection(kind: StoreKind, runAuth: boolean): Promise<void> {
  const label = `Sideline ${STORE_LABEL[kind]}`;
  await withStore(kind, 'main', async (store) => {
    log(`${label}: starting (migrations and first admin on a fresh store)`);
    const flags = PROFILE && kind === 'postgres' ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
    if (flags.length) {
      await rm(PROFILE_DIR, { recursive: true, force: true });
      await mkdir(PROFILE_DIR, { recursive: true });
    }
    let fixtures!: Fixtures;
    await withServer(
      () => startSideline(store, flags),
      async (server) => {
        fixtures = await createFixtures(server.port);
        log(`${label}: fixtures ready`);
        if (report.showBodyBytes === null) {
          const show = await api(server.port, 'GET', fixtures.show.path);
          if (show.status !== 200) throw new Error(`Show answered ${show.status}: ${show.text}`);
          report.showBodyBytes = Buffer.byteLength(show.text);
          if (SECTIONS.has('throughput')) await runBaseline(report.showBodyBytes);
        }
        for (const w of SECTIONS.has('throughput') ? selectedWorkloads() : []) {
          for (const connections of CONNECTION_SET) {
            const result = await measure(`${label} ${w.name}`, server, spec(server, w.method, w.paths(fixtures), connections, bodyOf(w)), store);
            const base = baselineRps.get(connections);
            report.rows.push({ section: 'throughput', server: label, workload: w.name, connections, result, ratio: base ? result.requestsPerSecond / base : null });
          }
        }
        if (SECTIONS.has('throughput') && kind === 'pglite') await showBesideCreate(label, server, fixtures);
        if (SECTIONS.has('throughput')) recordRss(`${label} (serve, throughput workloads)`, server);
        if (kind === 'postgres' && SECTIONS.has('throughput') && SECTIONS.has('ceiling')) await ceilingSection(store, fixtures, server);
      },
    );
    if (flags.length) await summariseProfile(label);
    if (runAuth) await authSection(store, fixtures);
    if (SECTIONS.has('throughput')) await nothingKeptSection(store, fixtures);
  });
}

const bodyOf = (w: Workload): Partial<LoadSpec> => (w.bodies ? { bodies: w.bodies } : w.body ? { body: w.body } : {});

/** Reply and Update pick one of the reply targets per transaction (see bench/pgbench/reply.sql). */
const targetVars = (f: Fixtures, ids: { account: number; user: number }) => ({
  account: ids.account,
  user: ids.user,
  count: f.replyTargets.length,
  ids: f.replyTargets.map((t) => t.id).join(','),
  tickets: f.replyTargets.map((t) => t.ticketId).join(','),
});

const SHOW_BESIDE_CREATE = `Show, beside a Create load (${CONNECTIONS} connections)`;
const CREATE_BESIDE_SHOW = 'Create (email), beside the Show load';

/**
 * Reads must not wait behind writes: on the embedded store every statement goes through one
 * PostgreSQL session, so Show (16 connections) is measured while a Create load (64) runs beside it.
 */
async function showBesideCreate(label: string, server: Server, fixtures: Fixtures): Promise<void> {
  await waitForQuiet();
  log(`${label}: Show × ${SECONDARY} connections beside Create × ${CONNECTIONS}, ${DURATION}s`);
  const watch = { serverPid: server.child.pid };
  const [create, show] = await Promise.all([
    runLoad(spec(server, 'POST', fixtures.createPaths, CONNECTIONS, { body: CREATE_BODY }), watch),
    runLoad(spec(server, 'GET', [fixtures.show.path], SECONDARY), watch),
  ]);
  log(`  → Show p99 ${show.p99.toFixed(2)} ms (${Math.round(show.requestsPerSecond)} req/s); Create p99 ${create.p99.toFixed(2)} ms (${Math.round(create.requestsPerSecond)} req/s)`);
  report.rows.push({ section: 'throughput', server: label, workload: SHOW_BESIDE_CREATE, connections: SECONDARY, result: show, ratio: null });
  report.rows.push({ section: 'throughput', server: label, workload: CREATE_BESIDE_SHOW, connections: CONNECTIONS, result: create, ratio: null });
}

/** The pgbench script of each workload that has one (bench/pgbench/), and its variables. */
/** What the ceiling scripts are given besides the fixtures: the admin's account and id, and the Events list's event ids. */
interface CeilingIds {
  account: number;
  user: number;
  events: string[];
}

const CEILING_SCRIPTS: Record<string, { script: string; vars: (f: Fixtures, ids: CeilingIds) => Record<string, string | number> }> = {
  Show: { script: 'show.sql', vars: (f, ids) => ({ account: ids.account, ticket: f.show.ticketId, sc: f.show.id }) },
  'List (50)': { script: 'list.sql', vars: (f, ids) => ({ account: ids.account, ticket: f.list.ticketId }) },
  'Events list (20)': {
    script: 'events.sql',
    vars: (f, ids) => ({ account: ids.account, ticket: f.events.ticketId, sc: f.events.id, ...Object.fromEntries(ids.events.map((id, i) => [`e${i + 1}`, id])) }),
  },
  'Create (email)': {
    script: 'create.sql',
    vars: (f, ids) => {
      const tickets = f.createPaths.map((p) => Number(/tickets\/(\d+)\//.exec(p)![1]));
      return { account: ids.account, user: ids.user, first_ticket: Math.min(...tickets), tickets: Math.max(...tickets) - Math.min(...tickets) + 1 };
    },
  },
  Reply: { script: 'reply.sql', vars: targetVars },
  Update: { script: 'update.sql', vars: targetVars },
};

/**
 * PostgreSQL: each workload beside its stack ceiling — bare Fastify answering a body of the
 * workload's own size, and pgbench doing the workload's database work — at the same client counts.
 */
async function ceilingSection(store: BenchStore, fixtures: Fixtures, sideline: Server): Promise<void> {
  const missing = await pgbenchMissing();
  if (missing) {
    report.notes.push(`pgbench not found (${missing}): no stack ceilings`);
    return;
  }
  const s = await store.open(1);
  let ids: CeilingIds;
  try {
    const user = await s.db.selectFrom('users').select(['id', 'account_id']).where('email', '=', ADMIN_EMAIL).executeTakeFirstOrThrow();
    const events = await s.db.selectFrom('side_conversation_events').select('id').where('account_id', '=', user.account_id).where('side_conversation_id', '=', fixtures.events.id).orderBy('seq').execute();
    if (events.length !== 20) throw new Error(`the Events list's conversation has ${events.length} events, the ceiling script names 20`);
    ids = { account: user.account_id, user: user.id, events: events.map((e) => e.id) };
  } finally {
    await s.close();
  }
  for (const w of selectedWorkloads()) {
    const ceiling = CEILING_SCRIPTS[w.name];
    if (!ceiling) {
      report.notes.push(`Stack ceiling: no pgbench script for ${w.name} yet`);
      continue;
    }
    // The HTTP half: a bare server answering what this workload answers, byte for byte in size.
    const sampleBody = w.body ?? w.bodies?.[0];
    const sample = await api(sideline.port, w.method, w.paths(fixtures)[0]!, sampleBody ? JSON.parse(sampleBody) : undefined);
    const bytes = Buffer.byteLength(sample.text);
    const http = new Map<number, number>();
    await withServer(
      () => startBaseline(bytes),
      async (server) => {
        for (const connections of CONNECTION_SET) {
          const result = await measure(`baseline ${bytes} B (for ${w.name})`, server, spec(server, 'GET', ['/api/v2/tickets/1/side_conversations/00000000-0000-4000-8000-000000000000.json'], connections), null);
          http.set(connections, result.requestsPerSecond);
        }
      },
    );
    for (const connections of CONNECTION_SET) {
      log(`pgbench ${ceiling.script}, ${connections} clients, ${DURATION} s`);
      const db = await pgbench(store.database!, ceiling.script, ceiling.vars(fixtures, ids), connections, DURATION);
      const a = http.get(connections)!;
      const row = report.rows.find((r) => r.section === 'throughput' && r.server === 'Sideline PostgreSQL' && r.workload === w.name && r.connections === connections);
      const limit = stackCeiling(a, db.tps);
      report.ceilings.push({
        workload: w.name,
        connections,
        bodyBytes: bytes,
        httpPerSecond: a,
        databasePerSecond: db.tps,
        databaseFailed: db.failed,
        ceiling: limit,
        sideline: row?.result.requestsPerSecond ?? null,
        ratio: row ? row.result.requestsPerSecond / limit : null,
      });
    }
  }
}

/**
 * The throughput rows of Show and List measure reads of unchanged conversations: the embedded store
 * serves them from memory until the next write, and both stores send each conversation's JSON as
 * rendered before while its row version stands. This is what they cost when nothing is kept (every
 * conversation written since it was last read).
 */
async function nothingKeptSection(store: BenchStore, fixtures: Fixtures): Promise<void> {
  const label = `in-process ${store.label}`;
  const credential = { login: `${ADMIN_EMAIL}/token`, secret: fixtures.apiToken };
  await withServer(
    () => startInProcess(store, true, false),
    async (server) => {
      for (const w of WORKLOADS.filter((x) => x.name === 'Show' || x.name === 'List (50)')) {
        const load = spec(server, 'GET', w.paths(fixtures), CONNECTIONS, { credential });
        const result = await measure(`${label} ${w.name}, nothing kept`, server, load, store);
        const base = baselineRps.get(CONNECTIONS);
        report.rows.push({
          section: 'auth',
          server: `${label}, nothing kept (read cache and kept JSON off)`,
          workload: `${w.name}, Basic email/token:TOKEN`,
          connections: CONNECTIONS,
          result,
          ratio: base ? result.requestsPerSecond / base : null,
        });
      }
    },
  );
}

/** Show through buildApp() with the authentication cache on and off, with a password and with an API token. */
async function authSection(store: BenchStore, fixtures: Fixtures): Promise<void> {
  const label = `in-process ${store.label}`;
  const credentials: Array<{ name: string; credential: Credential }> = [
    { name: 'Basic email:password', credential: PASSWORD },
    { name: 'Basic email/token:TOKEN', credential: { login: `${ADMIN_EMAIL}/token`, secret: fixtures.apiToken } },
  ];
  for (const cache of [true, false]) {
    await withServer(
      () => startInProcess(store, cache),
      async (server) => {
        for (const c of credentials) {
          const load = spec(server, 'GET', [fixtures.show.path], CONNECTIONS, { credential: c.credential });
          const result = await measure(`${label} Show, cache ${cache ? 'on' : 'off'}, ${c.name}`, server, load, store);
          const base = baselineRps.get(CONNECTIONS);
          report.rows.push({
            section: 'auth',
            server: `${label}, cache ${cache ? 'on' : 'off'}`,
            workload: `Show, ${c.name}`,
            connections: CONNECTIONS,
            result,
            ratio: base ? result.requestsPerSecond / base : null,
          });
        }
        if (cache) {
          // A burst on a header the cache has not seen: the requests share one verification.
          const header = freshHeader(PASSWORD);
          log(`${label}: ${CONNECTIONS} concurrent Show requests with a credential the cache has not seen`);
          const b = await burst(server.port, fixtures.show.path, header, CONNECTIONS);
          log(`  → all answered after ${b.wallMs.toFixed(0)} ms (p50 ${b.p50.toFixed(0)} ms)`);
          report.rows.push({
            section: 'auth',
            server: `${label}, cache on`,
            workload: `Show, ${CONNECTIONS} at once on an unseen credential (they share one verification)`,
            connections: CONNECTIONS,
            result: b.result,
            ratio: null,
          });
        }
        recordRss(`${label} (buildApp, auth cache ${cache ? 'on' : 'off'})`, server);
      },
    );
  }
}

async function summariseProfile(label: string): Promise<void> {
  const files = (await readdir(PROFILE_DIR).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile'));
  if (!files.length) {
    report.notes.push(`${label}: no CPU profile was written`);
    return;
  }
  // One profile per thread (tsx runs a loader thread too): the main thread's is the largest.
  const sizes = await Promise.all(files.map(async (f) => ({ f, size: (await stat(join(PROFILE_DIR, f))).size })));
  const file = join(PROFILE_DIR, sizes.sort((a, b) => b.size - a.size)[0]!.f);
  const { functions, byPackage } = await hottest(file, 12);
  report.notes.push(
    `${label} CPU profile (all throughput workloads, self time) ${relative(ROOT, file)}: ` +
      functions.map((f) => `${f.name} ${f.where} ${f.selfPct.toFixed(1)}%`).join('; '),
  );
  report.notes.push(`${label} CPU by package: ${byPackage.map((p) => `${p.name} ${p.selfPct.toFixed(1)}%`).join(', ')}`);
}

async function resetOutbox(store: BenchStore): Promise<void> {
  // The same messages again: every outbox row pending, every delivery queued.
  const s = await store.open();
  try {
    await sql`update outbox set status = 'pending', attempts = 0, claimed_until = null, claimed_by = null, delivered_at = null, last_error = null, next_attempt_at = now()`.execute(s.db);
    await sql`update deliveries set status = 'queued', reason = null`.execute(s.db);
  } finally {
    await s.close();
  }
}

async function relaySection(kind: StoreKind): Promise<void> {
  const count = relayCount(kind);
  await withStore(kind, 'relay', async (store) => {
    log(`Relay ${store.label}: queueing ${count} email side conversations through the API`);
    await withServer(
      () => startSideline(store),
      (server) => queueEmails(server.port, count),
    );
    const relayCounts = kind === 'postgres' ? [1, 4] : [1];
    let first = true;
    for (const sinkKind of ['smtp-server', 'instant'] as SinkKind[]) {
      const sink = await startSmtpSink(sinkKind);
      try {
        for (const relays of relayCounts) {
          if (!first) await resetOutbox(store);
          first = false;
          const before = { messages: sink.messages(), connections: sink.connections() };
          log(`Relay ${store.label}: ${relays} relay(s) draining ${count} emails into the ${sinkKind} sink`);
          const worker = spawnTs('relay', 'bench/relay-worker.ts', [], { ...store.env, SMTP_URL: sink.url, RELAYS: String(relays), TIME_LIMIT_S: '300' });
          const timer = setTimeout(() => worker.proc.kill('SIGKILL'), 360_000);
          try {
            const code = await worker.exited;
            if (code !== 0) throw new Error(`relay worker failed (exit ${code}):\n${worker.output()}`);
          } finally {
            clearTimeout(timer);
            await worker.stop(1000);
          }
          const out = JSON.parse(worker.stdout().trim().split('\n').pop()!) as { delivered: number; failed: number; pending: number; seconds: number; passErrors: number };
          const perSecond = out.delivered / out.seconds;
          log(`  → ${out.delivered} delivered in ${out.seconds.toFixed(2)} s = ${perSecond.toFixed(1)} emails/s`);
          report.relay.push({
            store: store.label,
            sink: sinkKind,
            relays,
            queued: count,
            delivered: out.delivered,
            failed: out.failed,
            seconds: out.seconds,
            perSecond,
            smtpMessages: sink.messages() - before.messages,
            smtpConnections: sink.connections() - before.connections,
            passErrors: out.passErrors,
            pending: out.pending,
          });
          if (out.pending || out.failed || out.passErrors) {
            report.notes.push(`Relay ${store.label} ×${relays} (${sinkKind}): ${out.pending} still pending, ${out.failed} failed, ${out.passErrors} failed passes`);
          }
        }
      } finally {
        await sink.close();
      }
    }
  });
}

const growthResults = new Map<string, number>(); // `${kind}|${workload}|${level}` → p50

async function growthSection(kind: StoreKind): Promise<void> {
  const levels = kind === 'postgres' ? [1_000, 100_000, ...(FULL ? [1_000_000] : [])] : [1_000, 100_000];
  const label = `Sideline ${STORE_LABEL[kind]}`;
  await withStore(kind, 'growth', async (store) => {
    let target: { showPath: string; listPath: string; createPaths: string[] } | null = null;
    for (const level of levels) {
      const s = await store.open(4);
      try {
        if (!target) await ensureAccountAndAdmin(s.db, { adminEmail: ADMIN_EMAIL, adminPassword: ADMIN_PASSWORD });
        const ctx = await seedContext(s.db);
        const have = await countConversations(s.db, ctx.accountId);
        const started = performance.now();
        if (have < level) {
          log(`Growth ${store.label}: seeding ${level - have} side conversations (to ${level.toLocaleString('en-US')})`);
          let lastLog = performance.now();
          const range = await seedConversations(s.db, ctx, Math.ceil((level - have) / 50) * 50, (done) => {
            if (performance.now() - lastLog > 10_000) {
              lastLog = performance.now();
              log(`  … ${done.toLocaleString('en-US')} written`);
            }
          });
          if (!target) {
            // The targets are fixed at the first level, so each level measures the same requests.
            const tickets = Array.from({ length: range.lastTicket - range.firstTicket + 1 }, (_, i) => range.firstTicket + i);
            const listTicket = tickets[Math.floor(tickets.length / 2)]!;
            const showId = await conversationOf(s.db, ctx.accountId, listTicket);
            target = {
              showPath: scPath(listTicket, showId),
              listPath: scPath(listTicket),
              createPaths: tickets.filter((t) => t !== listTicket).map((t) => scPath(t)),
            };
          }
          log(`  seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        }
      } finally {
        await s.close();
      }
      const t = target!;
      await withServer(
        () => startSideline(store),
        async (server) => {
          const workloads = [
            { name: 'Show', load: spec(server, 'GET', [t.showPath], CONNECTIONS) },
            { name: 'List (50)', load: spec(server, 'GET', [t.listPath], CONNECTIONS) },
            { name: 'Create (email)', load: spec(server, 'POST', t.createPaths, CONNECTIONS, { body: CREATE_BODY }) },
          ];
          for (const w of workloads) {
            const result = await measure(`Growth ${store.label} ${level.toLocaleString('en-US')} ${w.name}`, server, w.load, store);
            report.rows.push({ section: 'growth', server: label, workload: w.name, connections: CONNECTIONS, level, result, ratio: null });
            growthResults.set(`${kind}|${w.name}|${level}`, result.p50);
          }
          recordRss(`${label} (serve, growth ${level.toLocaleString('en-US')})`, server);
        },
      );
    }
    const top = levels[levels.length - 1]!;
    for (const workload of ['Show', 'List (50)', 'Create (email)']) {
      const from = growthResults.get(`${kind}|${workload}|1000`);
      const to = growthResults.get(`${kind}|${workload}|${top}`);
      if (from === undefined || to === undefined) continue;
      report.flatness.push({ store: store.label, workload, fromLevel: 1000, toLevel: top, p50From: from, p50To: to, ratio: to / from });
    }
  });
}

async function consoleSection(): Promise<void> {
  log(`console: ${CONSOLE_VISITS} ticket page visits, ${CONSOLE_REPLIES} inbound replies, in headless Chromium`);
  const measured = await measureConsole({ visits: CONSOLE_VISITS, replies: CONSOLE_REPLIES, log });
  if (typeof measured === 'string') report.notes.push(`Agent console not measured: ${measured}`);
  else report.console = measured;
}

// ---------------------------------------------------------------- targets

function computeTargets(pgSkipped: string | null): void {
  const row = (server: string, workload: string, connections = CONNECTIONS): LoadRow | undefined =>
    report.rows.find((r) => r.section === 'throughput' && r.server === server && r.workload === workload && r.connections === connections);
  const pg = 'Sideline PostgreSQL';
  const t: Target[] = report.targets;
  const skip = (name: string, why: string) => t.push({ name, pass: null, detail: why });
  const pgWhy = pgSkipped ? `PostgreSQL not measured (${pgSkipped})` : 'not measured in this run';

  for (const w of WORKLOADS) {
    const name = `PostgreSQL ${w.name} p99 < 50 ms (${SECONDARY} connections)`;
    const r = row(pg, w.name, SECONDARY);
    if (!r) skip(name, pgWhy);
    else t.push({ name, pass: r.result.p99 < 50 && !r.result.non2xx, detail: `p99 ${r.result.p99.toFixed(1)} ms` });
  }
  {
    const name = `PGlite Create (email) p99 ≤ 300 ms (${CONNECTIONS} connections)`;
    const r = row('Sideline PGlite', 'Create (email)');
    if (!r) skip(name, 'not measured in this run');
    else t.push({ name, pass: r.result.p99 <= 300 && !r.result.non2xx, detail: `p99 ${r.result.p99.toFixed(1)} ms, ${Math.round(r.result.requestsPerSecond)} req/s` });
    const besideName = `PGlite Show p99 ≤ 20 ms beside a Create load (${SECONDARY} + ${CONNECTIONS} connections)`;
    const beside = row('Sideline PGlite', SHOW_BESIDE_CREATE, SECONDARY);
    if (!beside) skip(besideName, 'not measured in this run');
    else t.push({ name: besideName, pass: beside.result.p99 <= 20 && !beside.result.non2xx, detail: `p99 ${beside.result.p99.toFixed(1)} ms, ${Math.round(beside.result.requestsPerSecond)} req/s` });
  }
  {
    const name = 'PostgreSQL relay ≥ 1,000 emails/s (1 relay, default settings, instant sink)';
    const r = report.relay.find((x) => x.store === 'PostgreSQL' && x.relays === 1 && x.sink === 'instant');
    if (!r) skip(name, SECTIONS.has('relay') ? pgWhy : 'not measured in this run');
    else t.push({ name, pass: r.perSecond >= 1000 && r.failed === 0, detail: `${r.perSecond.toFixed(0)} emails/s, ${r.delivered} of ${r.queued} delivered, ${r.failed} failed` });
  }
  {
    const name = 'PostgreSQL: a 5,000-message backlog drained with no failed pass (every relay run)';
    const runs = report.relay.filter((x) => x.store === 'PostgreSQL');
    if (runs.length === 0) skip(name, SECTIONS.has('relay') ? pgWhy : 'not measured in this run');
    else {
      const whole = runs.every((r) => r.queued >= 5000 && r.delivered === r.queued && r.failed === 0 && (r.passErrors ?? 1) === 0 && (r.pending ?? 1) === 0);
      t.push({ name, pass: whole, detail: runs.map((r) => `${r.relays}×${r.sink}: ${r.delivered}/${r.queued} delivered, ${r.passErrors ?? '?'} failed passes`).join('; ') });
    }
  }
  for (const workload of ['Show', 'List (50)', 'Create (email)']) {
    const f = report.flatness.find((x) => x.store === 'PostgreSQL' && x.workload === workload);
    const name = `PostgreSQL ${workload} p50 at the largest level ≤ 1.25× p50 at 1k`;
    if (!f) skip(name, pgWhy);
    else
      t.push({
        name,
        pass: f.ratio <= 1.25,
        detail: `${f.p50To.toFixed(2)} ms at ${f.toLevel.toLocaleString('en-US')} vs ${f.p50From.toFixed(2)} ms at 1,000 = ${f.ratio.toFixed(2)}×`,
      });
  }
  for (const c of report.ceilings) {
    t.push({
      name: `PostgreSQL ${c.workload} ≥ 80% of its stack ceiling (${c.connections} connections)`,
      pass: c.ratio === null ? null : c.ratio >= 0.8,
      detail: `${c.sideline === null ? '-' : Math.round(c.sideline)} req/s of a ${Math.round(c.ceiling)} ceiling (Fastify ${Math.round(c.httpPerSecond)}/s at ${c.bodyBytes} B, pgbench ${Math.round(c.databasePerSecond)} tps)`,
    });
  }
  for (const which of ['existing store', 'new DATA_DIR']) {
    const name = `npm start answers within 3 s (${which}, p50)`;
    const f = report.figures.find((x) => x.section === 'startup' && x.name.endsWith(which));
    if (!f) skip(name, 'not measured in this run');
    else t.push({ name, pass: f.value <= 3000, detail: `${Math.round(f.value)} ms (${f.detail})` });
  }
  {
    // The agent console's budgets (issue 13), on localhost against PGlite.
    const c = report.console;
    const why = SECTIONS.has('console') ? 'not measured (see the notes)' : 'not measured in this run';
    const jsName = 'Console first-load JS ≤ 350 KB gzipped';
    if (!c) skip(jsName, why);
    else t.push({ name: jsName, pass: c.firstLoadJsGzipBytes <= 350 * 1024, detail: `${(c.firstLoadJsGzipBytes / 1024).toFixed(1)} KB in ${c.firstLoadJsFiles.join(', ')}` });
    const pageName = 'Console navigation → interactive ticket page p50 ≤ 1 s';
    if (!c) skip(pageName, why);
    else {
      const p50 = percentile(c.ticketPageMs, 50);
      t.push({ name: pageName, pass: p50 <= 1000, detail: `p50 ${p50.toFixed(0)} ms, max ${Math.max(...c.ticketPageMs).toFixed(0)} ms over ${c.ticketPageMs.length} visits` });
    }
    const replyName = 'Console inbound reply commit → shown on the open page p50 ≤ 500 ms';
    if (!c) skip(replyName, why);
    else {
      const p50 = percentile(c.replyAppearMs, 50);
      t.push({ name: replyName, pass: p50 <= 500, detail: `p50 ${p50.toFixed(0)} ms, max ${Math.max(...c.replyAppearMs).toFixed(0)} ms over ${c.replyAppearMs.length} replies` });
    }
  }
  {
    const name = `PGlite Show ≥ 2,000 req/s (${CONNECTIONS} connections)`;
    const r = row('Sideline PGlite', 'Show');
    if (!r) skip(name, 'not measured in this run');
    else t.push({ name, pass: r.result.requestsPerSecond >= 2000 && !r.result.non2xx, detail: `${Math.round(r.result.requestsPerSecond)} req/s` });
  }
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  log(`duration ${DURATION}s (+${WARMUP}s warmup) per run, connections ${CONNECTION_SET.join(' and ')}, sections ${[...SECTIONS].join(',')}`);
  const pgProblem = await postgresReachable();
  const kinds = (pgProblem ? (['pglite'] as StoreKind[]) : (['pglite', 'postgres'] as StoreKind[])).filter((kind) => STORES.has(kind));
  if (pgProblem) {
    const note = `PostgreSQL is unreachable (${pgProblem}): its measurements are skipped`;
    log(note);
    report.notes.push(note);
  }
  const authKind: StoreKind = pgProblem ? 'pglite' : 'postgres';
  try {
    if (SECTIONS.has('startup')) {
      log(`Start-up: npm start's command to the first answer, ${STARTUP_RUNS} times on one store and on new ones`);
      report.figures.push(...(await startupFigures(STARTUP_RUNS)));
    }
    if (SECTIONS.has('throughput') || SECTIONS.has('auth')) {
      for (const kind of kinds) await throughputSection(kind, SECTIONS.has('auth') && kind === authKind);
    }
    if (SECTIONS.has('relay')) for (const kind of kinds) await relaySection(kind);
    if (SECTIONS.has('stream')) {
      for (const kind of kinds) {
        log(`Stream ${STORE_LABEL[kind]}: ${STREAM_WRITES} creates to ${STREAMS} open streams`);
        await withStore(kind, 'stream', async (store) => report.figures.push(...(await streamFigures(store, STREAMS, STREAM_WRITES, 16))));
      }
    }
    if (SECTIONS.has('webhooks')) {
      for (const kind of kinds) {
        log(`Webhooks ${STORE_LABEL[kind]}: ${WEBHOOK_N} deliveries drained into a loopback receiver`);
        await withStore(kind, 'webhooks', async (store) => report.figures.push(...(await webhookFigures(store, WEBHOOK_N))));
      }
    }
    if (SECTIONS.has('growth')) for (const kind of kinds) await growthSection(kind);
    if (SECTIONS.has('console')) await consoleSection();
    if (SECTIONS.has('migration')) {
      for (const kind of kinds) {
        log(`Migration ${STORE_LABEL[kind]}: import-from of ${MIGRATION_N} side conversations from a Sideline over HTTP`);
        await withStore(kind, 'migration-source', (source) =>
          withStore(kind, 'migration-target', async (target) => report.figures.push(...(await migrationFigures(source, target, MIGRATION_N)))),
        );
      }
    }
  } finally {
    report.finishedAt = new Date().toISOString();
    computeTargets(pgProblem);
    report.notes.push(
      `Load generator and servers share ${cpus().length} cores: "CPU loader" shows what autocannon itself used; ` +
        'when server + loader (+ postgres) approach 100% × cores, the machine, not the server, is the limit.',
    );
    const { json, md } = await writeReport(RESULTS_DIR, report);
    process.stdout.write(`\n${renderText(report)}\n\nWrote ${relative(ROOT, json)} and ${relative(ROOT, md)}\n`);
  }
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    killAllChildren();
    void Promise.allSettled(liveStores().map((s) => s.destroy())).finally(() => process.exit(1));
  });
