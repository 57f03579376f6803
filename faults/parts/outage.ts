/**
 * Part 4, outage, on a private PostgreSQL cluster the harness starts, restarts and kills itself:
 *   (a) the cluster restarted three times under concurrent creates: the server stays up, answers
 *       201 or 503 DatabaseUnavailable (with Retry-After) and nothing else, reconnects by itself,
 *       and every 201 is in the database afterwards;
 *   (b) a backlog of emails (5,000; 300 in the short form) drained by three `relay` processes,
 *       the cluster killed (immediate stop) once midway: every message reaches the SMTP sink
 *       exactly once and every outbox row ends delivered.
 */
import pg from 'pg';
import { api, type ApiResult } from '../lib/http.js';
import { startPrivateCluster, type PrivateCluster } from '../lib/private-pg.js';
import { runSideline, startServer, waitForOutput, type SidelineProcess } from '../lib/procs.js';
import { check, clip, log, section } from '../lib/report.js';
import { startMessageIdSink } from '../lib/smtp-sink.js';
import { ADMIN_AUTH, ADMIN_EMAIL, ADMIN_PASSWORD, isRecord, mapLimit, sleep, tempDir } from '../lib/sideline.js';

type Row = Record<string, unknown>;

async function createDatabaseOn(cluster: PrivateCluster, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(cluster.url);
  url.pathname = `/${name}`;
  return url.toString();
}

/** One query on a fresh connection (the cluster may have restarted since the last one). */
async function query(url: string, text: string, params: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text, params)).rows as Row[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

function commonEnv(url: string): Record<string, string> {
  return {
    DATABASE_URL: url,
    SIDELINE_ADMIN_EMAIL: ADMIN_EMAIL,
    SIDELINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    SLACK_API_URL: 'http://127.0.0.1:9/slack/',
    TEAMS_TOKEN_URL: 'http://127.0.0.1:9/token',
    TEAMS_OPENID_METADATA_URL: 'http://127.0.0.1:9/openid',
  };
}

async function newTicket(server: SidelineProcess, subject: string): Promise<number> {
  const ticket = await api(server.baseUrl, 'POST', '/api/v2/tickets', { auth: ADMIN_AUTH, json: { ticket: { subject, comment: { body: 'Outage probe' } } } });
  return isRecord(ticket.body) && isRecord(ticket.body['ticket']) ? Number(ticket.body['ticket']['id']) : NaN;
}

function createEmail(server: SidelineProcess, ticketId: number, n: number, label: string): Promise<ApiResult> {
  return api(server.baseUrl, 'POST', `/api/v2/tickets/${ticketId}/side_conversations`, {
    auth: ADMIN_AUTH,
    json: { message: { subject: `${label} #${n}`, body: `Message ${n}`, to: [{ email: `${label}${n}@example.com` }] } },
    timeoutMs: 60_000,
  });
}

async function restartsUnderLoad(cluster: PrivateCluster, short: boolean): Promise<void> {
  const label = 'outage/restarts';
  const url = await createDatabaseOn(cluster, 'sideline_restarts');
  const server = await startServer(`${label} API`, { ...commonEnv(url), DATA_DIR: tempDir('outage-api'), RELAY: 'off' });
  try {
    const ticketId = await newTicket(server, 'Restarts under load');
    if (!check(`${label}: setup ticket`, ticketId > 0)) return;
    const created: string[] = [];
    const unavailable: ApiResult[] = [];
    const other: ApiResult[] = [];
    let stop = false;
    let n = 0;
    let lastRestartDone = Infinity;
    let createdAfterLastRestart = 0;
    const worker = async () => {
      while (!stop) {
        const res = await createEmail(server, ticketId, n++, 'restart');
        if (res.status === 201 && isRecord(res.body) && isRecord(res.body['side_conversation'])) {
          created.push(String(res.body['side_conversation']['id']));
          if (Date.now() > lastRestartDone) createdAfterLastRestart++;
        } else if (res.status === 503) unavailable.push(res);
        else other.push(res);
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    const gapMs = short ? 1_500 : 4_000;
    for (let i = 1; i <= 3; i++) {
      await sleep(gapMs);
      const t0 = Date.now();
      await cluster.restart();
      log(`${label}: restart ${i} took ${Date.now() - t0} ms (${created.length} created so far)`);
    }
    lastRestartDone = Date.now();
    await sleep(short ? 2_000 : 4_000);
    stop = true;
    await Promise.all(workers);

    log(`${label}: ${created.length} answered 201, ${unavailable.length} answered 503, ${other.length} other; ${createdAfterLastRestart} created after the last restart`);
    check(`${label}: the server survived three restarts of PostgreSQL`, server.alive() && !/Unhandled 'error' event/.test(server.output()),
      server.alive() ? '' : 'the server exited', [clip(server.output().slice(-2000), 2000)]);
    check(`${label}: every answer is 201 or 503`, other.length === 0, `${other.length} other answers`,
      other.slice(0, 5).map((r) => `HTTP ${r.status} ${r.error ?? ''} ${clip(r.text)}`));
    const badRefusals = unavailable.filter((r) => !isRecord(r.body) || r.body['error'] !== 'DatabaseUnavailable');
    check(`${label}: every 503 is a DatabaseUnavailable error body`, badRefusals.length === 0, `${badRefusals.length} others`, badRefusals.slice(0, 3).map((r) => clip(r.text)));
    check(`${label}: the pool reconnected by itself (creates answered 201 after the last restart)`, createdAfterLastRestart > 0, `${createdAfterLastRestart}`);
    const ready = await api(server.baseUrl, 'GET', '/readyz');
    check(`${label}: /readyz is 200 again`, ready.status === 200, `HTTP ${ready.status}`);
    const rows = await query(url, `select count(*)::int as n, count(*) filter (where exists (select 1 from outbox o where o.side_conversation_id = sc.id))::int as with_outbox
                                   from side_conversations sc where sc.id::text = any($1)`, [created]);
    const found = Number(rows[0]?.['n'] ?? 0);
    const withOutbox = Number(rows[0]?.['with_outbox'] ?? 0);
    log(`${label}: of ${created.length} acknowledged creates, ${found} are in the database (${withOutbox} with their outbox row)`);
    check(`${label}: every acknowledged create (201) is in the database with its outbox row`, found === created.length && withOutbox === created.length,
      `${found} and ${withOutbox} of ${created.length}`);
  } finally {
    await server.stop();
  }
}

async function drainThroughKill(cluster: PrivateCluster, short: boolean): Promise<void> {
  const label = 'outage/drain';
  const total = Number(process.env['FAULTS_OUTAGE_MESSAGES'] ?? (short ? 300 : 5_000));
  const url = await createDatabaseOn(cluster, 'sideline_drain');
  const sink = await startMessageIdSink();
  const procs: SidelineProcess[] = [];
  try {
    const server = await startServer(`${label} API`, { ...commonEnv(url), DATA_DIR: tempDir('drain-api'), RELAY: 'off' });
    procs.push(server);
    const ticketId = await newTicket(server, 'A backlog');
    if (!check(`${label}: setup ticket`, ticketId > 0)) return;
    const t0 = Date.now();
    const answers = await mapLimit(Array.from({ length: total }, (_, i) => i), 12, (n) => createEmail(server, ticketId, n, 'drain'));
    const notCreated = answers.filter((a) => a.status !== 201);
    log(`${label}: queued ${total - notCreated.length} emails in ${Date.now() - t0} ms`);
    if (!check(`${label}: ${total} emails queued`, notCreated.length === 0, `${notCreated.length} not created`, notCreated.slice(0, 3).map((a) => `HTTP ${a.status} ${clip(a.text)}`))) return;
    await server.stop();

    const relays = ['1', '2', '3'].map((name) =>
      runSideline(`${label} relay ${name}`, 'relay', { ...commonEnv(url), DATA_DIR: tempDir(`drain-r${name}`), SMTP_URL: sink.url, RELAY_POLL_MS: '100', LOG_LEVEL: 'warn' }),
    );
    procs.push(...relays);
    const started = Date.now();
    // Kill PostgreSQL once about half the backlog has gone out; start it again a second later.
    while (sink.messages.length < total / 2 && Date.now() - started < 300_000 && relays.every((r) => r.alive())) await sleep(20);
    const sentAtKill = sink.messages.length;
    await cluster.kill();
    log(`${label}: PostgreSQL killed after ${sentAtKill} of ${total} messages went out`);
    await sleep(1_000);
    await cluster.start();
    // Bounded from the restart: what is left must drain at a relay's normal pace.
    const restarted = Date.now();
    const limitMs = short ? 120_000 : 300_000;
    let pending = -1;
    while (Date.now() - restarted < limitMs) {
      try {
        pending = Number((await query(url, "select count(*)::int as n from outbox where status <> 'delivered'"))[0]?.['n'] ?? -1);
      } catch {
        pending = -1;
      }
      if (pending === 0 || !relays.every((r) => r.alive())) break;
      await sleep(250);
    }
    await sleep(500); // any message sent twice would be at the sink by now
    const counts = sink.counts();
    const twice = [...counts].filter(([, c]) => c > 1);
    log(`${label}: drained in ${Date.now() - started} ms; sink got ${sink.messages.length} messages, ${counts.size} distinct Message-IDs, ${twice.length} more than once; ${pending} rows not delivered`);
    check(`${label}: three relays survived PostgreSQL being killed`, relays.every((r) => r.alive()), relays.filter((r) => !r.alive()).map((r) => r.name).join(', '),
      relays.filter((r) => !r.alive()).map((r) => clip(r.output().slice(-1500), 1500)));
    check(`${label}: every outbox row delivered within ${limitMs / 1000} s of the restart`, pending === 0, `${pending} not delivered`);
    check(`${label}: every message reached the sink exactly once`, counts.size === total && twice.length === 0 && sink.messages.length === total,
      `${counts.size} distinct of ${total}, ${twice.length} duplicated`, twice.slice(0, 5).map(([id, c]) => `${id} x${c}`));
    const byRelay = await query(url, "select claimed_by as relay, count(*)::int as n from outbox group by claimed_by order by claimed_by");
    log(`${label}: rows by relay: ${byRelay.map((r) => `${String(r['relay'])}=${String(r['n'])}`).join(', ')}`);
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await sink.close();
  }
}

export async function outagePart(options: { short: boolean }): Promise<void> {
  section('Part 4: a private PostgreSQL restarted and killed under load');
  let cluster: PrivateCluster;
  try {
    cluster = await startPrivateCluster();
  } catch (error) {
    check('outage: a private PostgreSQL cluster started', false, error instanceof Error ? error.message : String(error));
    return;
  }
  try {
    log(`outage: private cluster on port ${cluster.port}`);
    await restartsUnderLoad(cluster, options.short);
    await drainThroughKill(cluster, options.short);
  } finally {
    await cluster.destroy();
  }
}
