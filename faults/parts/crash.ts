/**
 * Part 1, crash: concurrent side conversation creates, SIGKILL of the server while requests are in
 * flight, restart on the same store, and proof that every create that was answered 201 is whole
 * (conversation, participants, create event, outbox row, deliveries) and that an unanswered one is
 * either absent or whole as well.
 */
import { join } from 'node:path';
import { api, type ApiResult } from '../lib/http.js';
import { startServer, type SidelineProcess } from '../lib/procs.js';
import { check, clip, log, section } from '../lib/report.js';
import { ADMIN_AUTH, ADMIN_EMAIL, STORE_LABEL, isRecord, mapLimit, openStoreHandle, type StoreHandle, type StoreKind } from '../lib/sideline.js';

export interface CrashOptions {
  short: boolean;
}

interface Recipient {
  email?: string;
  name?: string;
  user_id?: number;
}

interface Attempt {
  n: number;
  round: number;
  subject: string;
  to: Recipient[];
  /** Emails of the recipients once resolved (a user_id becomes that user's address). */
  expectedEmails: string[];
  status: number | null;
  body: unknown;
  error?: string;
}

type Row = Record<string, unknown>;
type Query = (text: string, params?: unknown[]) => Promise<Row[]>;

const KNOWN_EMAIL = 'known.person@example.com';

function buildAttempt(n: number, round: number, store: StoreKind, knownUserId: number): Attempt {
  const to: Recipient[] = [{ email: `probe${n}-a@example.com`, name: `Probe ${n} – Zoë` }];
  const expectedEmails = [`probe${n}-a@example.com`];
  if (n % 3 >= 1) {
    to.push({ email: `probe${n}-b@example.net` });
    expectedEmails.push(`probe${n}-b@example.net`);
  }
  if (n % 3 === 2) {
    if (n % 2 === 0) {
      to.push({ user_id: knownUserId });
      expectedEmails.push(KNOWN_EMAIL);
    } else {
      to.push({ email: KNOWN_EMAIL.toUpperCase(), name: 'Shown As Given' });
      expectedEmails.push(KNOWN_EMAIL);
    }
  }
  return { n, round, subject: `crash ${store} #${n} ✓`, to, expectedEmails, status: null, body: null };
}

interface Envelope {
  event: { id: string; type: string; side_conversation_id: string };
  side_conversation: { id: string; subject: string; participants: Array<{ user_id: number | null; name: string | null; email: string | null }> };
}

function envelopeOf(body: unknown): Envelope | null {
  if (!isRecord(body) || !isRecord(body['event']) || !isRecord(body['side_conversation'])) return null;
  return body as unknown as Envelope;
}

/** One round: creates at `concurrency` until `target` have answered 201, then SIGKILL with requests in flight. */
async function loadAndKill(server: SidelineProcess, ticketId: number, attempts: Attempt[], opts: {
  round: number;
  store: StoreKind;
  knownUserId: number;
  target: number;
  concurrency: number;
  firstN: number;
  timeoutMs: number;
  jitterMs: number;
}): Promise<{ inFlightAtKill: number; killed: boolean; elapsedMs: number }> {
  let created = 0;
  let inFlight = 0;
  let inFlightAtKill = 0;
  let stop = false;
  let killed = false;
  let killing = false;
  let n = opts.firstN;
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const worker = async () => {
    while (!stop) {
      if (Date.now() > deadline) {
        stop = true;
        break;
      }
      const attempt = buildAttempt(n++, opts.round, opts.store, opts.knownUserId);
      attempts.push(attempt);
      inFlight++;
      const res = await api(server.baseUrl, 'POST', `/api/v2/tickets/${ticketId}/side_conversations`, {
        auth: ADMIN_AUTH,
        json: { message: { subject: attempt.subject, body: `Probe ${attempt.n}: is the printer still on fire?`, to: attempt.to }, external_ids: { probe: String(attempt.n) } },
        timeoutMs: 60_000,
      });
      inFlight--;
      if (res.status === 0) {
        attempt.error = res.error ?? 'no answer';
      } else {
        attempt.status = res.status;
        attempt.body = res.body;
      }
      if (res.status === 201 && ++created >= opts.target && !killing) {
        killing = true;
        // The kill lands a little after the target 201 (0 ms in round 1, a few ms later on), while
        // the other workers keep sending: some requests are queued, some mid-transaction.
        const kill = () => {
          killed = true;
          stop = true;
          inFlightAtKill = inFlight;
          server.kill('SIGKILL');
        };
        if (opts.jitterMs > 0) setTimeout(kill, opts.jitterMs);
        else kill();
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  if (!killed) server.kill('SIGKILL');
  await server.exited;
  return { inFlightAtKill, killed, elapsedMs: Date.now() - started };
}

async function listAll(server: SidelineProcess, ticketId: number): Promise<{ conversations: Row[]; events: Row[]; error?: string }> {
  const conversations: Row[] = [];
  const events: Row[] = [];
  for (let page = 1; page <= 100; page++) {
    const res = await api(server.baseUrl, 'GET', `/api/v2/tickets/${ticketId}/side_conversations?include=events&per_page=100&page=${page}`, { auth: ADMIN_AUTH });
    if (res.status !== 200 || !isRecord(res.body)) return { conversations, events, error: `page ${page}: HTTP ${res.status} ${clip(res.text)}` };
    conversations.push(...((res.body['side_conversations'] as Row[]) ?? []));
    events.push(...((res.body['events'] as Row[]) ?? []));
    if (!res.body['next_page']) break;
  }
  return { conversations, events };
}

/** The store-wide shape of every conversation, by SQL. */
async function sqlShapes(query: Query): Promise<{ shapes: Map<string, Row>; orphanOutbox: number; orphanDeliveries: number }> {
  const rows = await query(`
    select sc.id::text as id, sc.subject,
      (select count(*) from side_conversation_participants p where p.side_conversation_id = sc.id)::int as participants,
      (select count(*) from side_conversation_events e where e.side_conversation_id = sc.id)::int as events,
      (select count(*) from side_conversation_events e where e.side_conversation_id = sc.id and e.type = 'create')::int as creates,
      (select count(*) from outbox o where o.side_conversation_id = sc.id)::int as outbox,
      (select count(*) from outbox o join side_conversation_events e on e.id = o.event_id and e.type = 'create'
        where o.side_conversation_id = sc.id and o.channel = 'email' and o.status = 'pending')::int as outbox_pending_for_create,
      (select count(*) from deliveries d join outbox o on o.id = d.outbox_id where o.side_conversation_id = sc.id and d.status = 'queued')::int as deliveries_queued,
      (select count(*) from deliveries d join outbox o on o.id = d.outbox_id where o.side_conversation_id = sc.id)::int as deliveries,
      (select count(*) from email_messages m where m.side_conversation_id = sc.id and m.direction = 'outbound')::int as message_ids,
      (select string_agg(lower(p.email), ',' order by p.position) from side_conversation_participants p where p.side_conversation_id = sc.id) as emails
    from side_conversations sc`);
  const shapes = new Map(rows.map((r) => [String(r['id']), r]));
  const [orphanOutbox] = await query(`select count(*)::int as n from outbox o where not exists (select 1 from side_conversation_events e where e.id = o.event_id)
                                      or not exists (select 1 from side_conversations s where s.id = o.side_conversation_id)`);
  const [orphanDeliveries] = await query(`select count(*)::int as n from deliveries d where not exists (select 1 from side_conversation_events e where e.id = d.event_id)`);
  return { shapes, orphanOutbox: Number(orphanOutbox?.['n'] ?? 0), orphanDeliveries: Number(orphanDeliveries?.['n'] ?? 0) };
}

function sqlShapeProblems(shape: Row, expectedEmails: string[]): string[] {
  const problems: string[] = [];
  const want: Record<string, number> = {
    participants: 1 + expectedEmails.length,
    events: 1,
    creates: 1,
    outbox: 1,
    outbox_pending_for_create: 1,
    deliveries: expectedEmails.length,
    deliveries_queued: expectedEmails.length,
    message_ids: 1,
  };
  for (const [key, value] of Object.entries(want)) {
    if (Number(shape[key]) !== value) problems.push(`${key}=${String(shape[key])} (want ${value})`);
  }
  const emails = [ADMIN_EMAIL, ...expectedEmails].map((e) => e.toLowerCase()).join(',');
  if (shape['emails'] !== emails) problems.push(`participant emails ${clip(shape['emails'])} (want ${emails})`);
  return problems;
}

async function withSql<T>(handle: StoreHandle, fn: (query: Query) => Promise<T>): Promise<T> {
  if (handle.kind === 'postgres') {
    const client = await handle.database!.client();
    try {
      return await fn(async (text, params) => (await client.query(text, params as unknown[])).rows as Row[]);
    } finally {
      await client.end();
    }
  }
  // The server has stopped: the data directory is ours to open.
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(join(handle.dataDir, 'pgdata'));
  try {
    return await fn(async (text, params) => (await db.query<Row>(text, params as unknown[])).rows);
  } finally {
    await db.close();
  }
}

export async function crashPart(store: StoreKind, options: CrashOptions): Promise<void> {
  const label = `crash/${STORE_LABEL[store]}`;
  section(`Part 1: crash (SIGKILL under concurrent creates) on ${STORE_LABEL[store]}`);
  const rounds = options.short ? 1 : 2;
  const target = options.short ? 100 : 300;
  const concurrency = 12;
  const handle = await openStoreHandle(store, `crash_${store}`);
  const env = { ...handle.env, RELAY: 'off', LOG_LEVEL: 'warn' };
  let server: SidelineProcess | null = null;
  try {
    let t0 = Date.now();
    server = await startServer(`${label} server`, env);
    log(`${label}: server up in ${Date.now() - t0} ms (pid ${server.pid}, port ${server.port})`);
    const ticket = await api(server.baseUrl, 'POST', '/api/v2/tickets', { auth: ADMIN_AUTH, json: { ticket: { subject: 'Crash probe ticket', comment: { body: 'Side conversations under SIGKILL' } } } });
    const known = await api(server.baseUrl, 'POST', '/api/v2/users', { auth: ADMIN_AUTH, json: { user: { name: 'Known Person', email: KNOWN_EMAIL, role: 'end-user' } } });
    const ticketId = isRecord(ticket.body) && isRecord(ticket.body['ticket']) ? Number(ticket.body['ticket']['id']) : NaN;
    const knownUserId = isRecord(known.body) && isRecord(known.body['user']) ? Number(known.body['user']['id']) : NaN;
    if (!check(`${label}: setup (ticket and a known user created)`, ticket.status === 201 && known.status === 201 && ticketId > 0 && knownUserId > 0,
      `ticket HTTP ${ticket.status}, user HTTP ${known.status}`, [clip(ticket.text), clip(known.text)])) return;

    const attempts: Attempt[] = [];
    for (let round = 1; round <= rounds; round++) {
      const before = attempts.length;
      const result = await loadAndKill(server, ticketId, attempts, {
        round, store, knownUserId, target, concurrency, firstN: before + 1, timeoutMs: options.short ? 90_000 : 240_000,
        jitterMs: round === 1 ? 0 : 2 + Math.floor(Math.random() * 10),
      });
      const mine = attempts.slice(before);
      const ok201 = mine.filter((a) => a.status === 201).length;
      const unanswered = mine.filter((a) => a.status === null).length;
      const other = mine.filter((a) => a.status !== null && a.status !== 201);
      log(`${label} round ${round}: ${mine.length} sent, ${ok201} answered 201, ${other.length} other answers, ${unanswered} unanswered; ` +
        `SIGKILL after ${result.elapsedMs} ms with ${result.inFlightAtKill} requests in flight (exit: ${String(await server.exited)})`);
      check(`${label} round ${round}: SIGKILL landed after ${target} 201s with requests in flight`, result.killed && result.inFlightAtKill > 0,
        `${ok201} answered 201, ${result.inFlightAtKill} in flight at the kill`);
      check(`${label} round ${round}: every answered create was a 201`, other.length === 0, `${other.length} answered otherwise`,
        other.map((a) => `#${a.n}: HTTP ${a.status} ${clip(a.body)}`));
      t0 = Date.now();
      try {
        server = await startServer(`${label} server (restart ${round})`, env);
        check(`${label} round ${round}: the server restarts on the store left by SIGKILL`, true, `ready in ${Date.now() - t0} ms`);
      } catch (error) {
        check(`${label} round ${round}: the server restarts on the store left by SIGKILL`, false, 'did not start', [clip(String(error), 2000)]);
        server = null;
        return;
      }
      const ready = await api(server.baseUrl, 'GET', '/readyz');
      check(`${label} round ${round}: /readyz answers 200 after the restart`, ready.status === 200, `HTTP ${ready.status} ${clip(ready.text)}`);
    }

    // ---- every 201, through the API
    const answered = attempts.filter((a) => a.status === 201);
    const withBody = answered.filter((a) => envelopeOf(a.body));
    const showProblems: string[] = [];
    const eventProblems: string[] = [];
    await mapLimit(withBody, 8, async (a) => {
      const env201 = envelopeOf(a.body)!;
      const id = env201.side_conversation.id;
      const shown: ApiResult = await api(server!.baseUrl, 'GET', `/api/v2/tickets/${ticketId}/side_conversations/${id}`, { auth: ADMIN_AUTH });
      const sc = isRecord(shown.body) && isRecord(shown.body['side_conversation']) ? shown.body['side_conversation'] : null;
      if (shown.status !== 200 || !sc) {
        showProblems.push(`#${a.n} ${id}: GET answered HTTP ${shown.status} ${clip(shown.text)}`);
      } else {
        if (sc['subject'] !== a.subject) showProblems.push(`#${a.n} ${id}: subject ${clip(sc['subject'])} (sent ${a.subject})`);
        const participants = sc['participants'] as Envelope['side_conversation']['participants'];
        if (JSON.stringify(participants) !== JSON.stringify(env201.side_conversation.participants)) {
          showProblems.push(`#${a.n} ${id}: participants ${clip(participants)} differ from the 201's ${clip(env201.side_conversation.participants)}`);
        }
        const emails = participants.map((p) => (p.email ?? '').toLowerCase());
        const want = [ADMIN_EMAIL, ...a.expectedEmails];
        if (emails.join(',') !== want.join(',')) showProblems.push(`#${a.n} ${id}: participant emails ${emails.join(',')} (sent ${want.join(',')})`);
        const named = a.to[0]!.name;
        if (participants[1]?.name !== named) showProblems.push(`#${a.n} ${id}: first recipient named ${clip(participants[1]?.name)} (sent ${named})`);
      }
      const events = await api(server!.baseUrl, 'GET', `/api/v2/tickets/${ticketId}/side_conversations/${id}/events`, { auth: ADMIN_AUTH });
      const list = isRecord(events.body) ? (events.body['events'] as Row[] | undefined) : undefined;
      if (events.status !== 200 || !list || !isRecord(events.body)) {
        eventProblems.push(`#${a.n} ${id}: events answered HTTP ${events.status} ${clip(events.text)}`);
        return;
      }
      const first = list[0];
      const deliveries = isRecord(first?.['message']) ? (first['message']['deliveries'] as Row[] | undefined) ?? [] : [];
      if (events.body['count'] !== 1 || list.length !== 1 || first?.['type'] !== 'create' || first?.['id'] !== env201.event.id) {
        eventProblems.push(`#${a.n} ${id}: count ${String(events.body['count'])}, types ${list.map((e) => e['type']).join(',')}, first id ${String(first?.['id'])} (201 said ${env201.event.id})`);
      } else if (deliveries.length !== a.expectedEmails.length || deliveries.some((d) => d['status'] !== 'queued')) {
        eventProblems.push(`#${a.n} ${id}: deliveries ${clip(deliveries.map((d) => `${String(d['recipient'])}=${String(d['status'])}`))} (want ${a.expectedEmails.length} queued)`);
      }
    });
    check(`${label}: every 201 conversation reads back whole (GET 200, same subject, participants as created)`, showProblems.length === 0 && withBody.length === answered.length,
      `${withBody.length} checked (${answered.length - withBody.length} 201s without a readable body)`, showProblems);
    check(`${label}: every 201 conversation has exactly its create event (events count 1, type create, deliveries queued)`, eventProblems.length === 0,
      `${withBody.length} checked`, eventProblems);

    // ---- everything in the store, through the API: answered, unanswered, nothing else
    const listed = await listAll(server, ticketId);
    const bySubject = new Map<string, Row[]>();
    for (const sc of listed.conversations) bySubject.set(String(sc['subject']), [...(bySubject.get(String(sc['subject'])) ?? []), sc]);
    const eventsBySc = new Map<string, Row[]>();
    for (const e of listed.events) eventsBySc.set(String(e['side_conversation_id']), [...(eventsBySc.get(String(e['side_conversation_id'])) ?? []), e]);
    const attemptBySubject = new Map(attempts.map((a) => [a.subject, a]));
    const storeProblems: string[] = [];
    if (listed.error) storeProblems.push(`listing failed: ${listed.error}`);
    for (const [subject, list] of bySubject) {
      if (!attemptBySubject.has(subject)) storeProblems.push(`a conversation nobody asked for: ${clip(subject)}`);
      if (list.length > 1) storeProblems.push(`${list.length} conversations for one request: ${clip(subject)}`);
    }
    for (const a of answered) if (!bySubject.has(a.subject)) storeProblems.push(`#${a.n}: answered 201 but missing from the list`);
    const unanswered = attempts.filter((a) => a.status === null);
    const unansweredProblems: string[] = [];
    let unansweredPresent = 0;
    for (const a of unanswered) {
      const found = bySubject.get(a.subject) ?? [];
      if (found.length === 0) continue;
      unansweredPresent++;
      for (const sc of found) {
        const evs = eventsBySc.get(String(sc['id'])) ?? [];
        const participants = (sc['participants'] as Row[]) ?? [];
        const emails = participants.map((p) => String(p['email'] ?? '').toLowerCase()).join(',');
        const deliveries = isRecord(evs[0]?.['message']) ? ((evs[0]['message'] as Row)['deliveries'] as Row[]) ?? [] : [];
        const want = [ADMIN_EMAIL, ...a.expectedEmails].join(',');
        if (emails !== want || evs.length !== 1 || evs[0]?.['type'] !== 'create' || deliveries.length !== a.expectedEmails.length) {
          unansweredProblems.push(`#${a.n} ${String(sc['id'])}: participants ${emails} (want ${want}), events ${evs.map((e) => e['type']).join(',') || 'none'}, deliveries ${deliveries.length}`);
        }
      }
    }
    check(`${label}: the store holds exactly the answered creates plus some unanswered ones, each once`, storeProblems.length === 0,
      `${listed.conversations.length} listed = ${answered.length} answered 201 + ${unansweredPresent} of ${unanswered.length} unanswered`, storeProblems);

    // ---- SQL: the outbox rows and deliveries (PostgreSQL now; PGlite once the server has stopped)
    if (store === 'pglite') {
      const code = await server.stop();
      check(`${label}: the restarted server stops cleanly on SIGTERM`, code === 0, `exit ${String(code)}`, [clip(server.output().slice(-2000), 2000)]);
      server = null;
    }
    const sqlProblems: string[] = [];
    const sqlUnanswered: string[] = [];
    let shapesCount = 0;
    try {
      await withSql(handle, async (query) => {
        const { shapes, orphanOutbox, orphanDeliveries } = await sqlShapes(query);
        shapesCount = shapes.size;
        if (orphanOutbox > 0) sqlProblems.push(`${orphanOutbox} outbox rows without their event or conversation`);
        if (orphanDeliveries > 0) sqlProblems.push(`${orphanDeliveries} deliveries without their event`);
        const bySubjectSql = new Map([...shapes.values()].map((s) => [String(s['subject']), s]));
        for (const a of answered) {
          const shape = bySubjectSql.get(a.subject);
          if (!shape) {
            sqlProblems.push(`#${a.n}: answered 201, no row in side_conversations`);
            continue;
          }
          const problems = sqlShapeProblems(shape, a.expectedEmails);
          if (problems.length) sqlProblems.push(`#${a.n} ${String(shape['id'])}: ${problems.join('; ')}`);
        }
        for (const a of unanswered) {
          const shape = bySubjectSql.get(a.subject);
          if (!shape) continue;
          const problems = sqlShapeProblems(shape, a.expectedEmails);
          if (problems.length) sqlUnanswered.push(`#${a.n} ${String(shape['id'])} (unanswered): ${problems.join('; ')}`);
        }
        for (const shape of shapes.values()) {
          if (!attemptBySubject.has(String(shape['subject']))) sqlProblems.push(`row for a subject nobody sent: ${clip(shape['subject'])}`);
        }
      });
    } catch (error) {
      sqlProblems.push(`could not query the store: ${clip(String(error), 500)}`);
    }
    const how = store === 'postgres' ? 'pg on the live database' : 'the data directory opened with PGlite after the server stopped';
    check(`${label}: every 201 conversation has its outbox row, queued deliveries and Message-ID in SQL (${how})`, sqlProblems.length === 0,
      `${answered.length} answered, ${shapesCount} conversations in SQL`, sqlProblems);
    check(`${label}: unanswered requests are absent or whole (conversation + participants + event + outbox row + deliveries)`,
      unansweredProblems.length === 0 && sqlUnanswered.length === 0,
      `${unanswered.length} unanswered, ${unansweredPresent} of them committed`, [...unansweredProblems, ...sqlUnanswered]);

    if (server) {
      const code = await server.stop();
      check(`${label}: the restarted server stops cleanly on SIGTERM`, code === 0, `exit ${String(code)}`, [clip(server.output().slice(-2000), 2000)]);
      server = null;
    }
  } finally {
    if (server?.alive()) server.kill('SIGKILL');
    if (server) await server.exited;
    await handle.cleanup();
  }
}

