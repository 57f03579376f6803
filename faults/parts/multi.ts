/**
 * Part 2: two API processes (RELAY=off) and two `relay` processes on one PostgreSQL, a loopback SMTP
 * sink counting Message-IDs. Creates and replies alternate between the API servers; every answer
 * must check out; then the outbox must drain with each row delivered exactly once.
 */
import { api } from '../lib/http.js';
import { createDatabase } from '../lib/pg.js';
import { runSideline, startServer, waitForOutput, type SidelineProcess } from '../lib/procs.js';
import { check, clip, log, section } from '../lib/report.js';
import { startMessageIdSink } from '../lib/smtp-sink.js';
import { ADMIN_AUTH, ADMIN_EMAIL, ADMIN_PASSWORD, UUID, isRecord, mapLimit, sleep, tempDir } from '../lib/sideline.js';

type Row = Record<string, unknown>;

interface Conversation {
  id: string;
  createdOn: number;
  createEventId: string;
  replyEventIds: string[];
  /** Replies still to send (decremented when one is claimed by a worker). */
  repliesLeft: number;
}

export async function multiPart(options: { short: boolean }): Promise<void> {
  const label = 'multi';
  section('Part 2: two API processes and two relays on one PostgreSQL');
  const creates = options.short ? 120 : 600;
  const repliesPerConversation = options.short ? 1 : 2;
  const concurrency = 8;
  const database = await createDatabase('multi');
  const sink = await startMessageIdSink();
  const procs: SidelineProcess[] = [];
  const common = {
    DATABASE_URL: database.url,
    SIDELINE_ADMIN_EMAIL: ADMIN_EMAIL,
    SIDELINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    SLACK_API_URL: 'http://127.0.0.1:9/slack/',
    TEAMS_TOKEN_URL: 'http://127.0.0.1:9/token',
    TEAMS_OPENID_METADATA_URL: 'http://127.0.0.1:9/openid',
  };
  const sqlClient = await database.client();
  try {
    // Both API processes start at once on the empty database: migrations and the first admin race.
    const t0 = Date.now();
    const servers = await Promise.all(
      ['A', 'B'].map((name) => startServer(`${label} API ${name}`, { ...common, DATA_DIR: tempDir(`multi-${name}`), RELAY: 'off', LOG_LEVEL: 'warn' })),
    );
    procs.push(...servers);
    const relays = ['1', '2'].map((name) =>
      runSideline(`${label} relay ${name}`, 'relay', { ...common, DATA_DIR: tempDir(`multi-r${name}`), SMTP_URL: sink.url, RELAY_POLL_MS: '100', LOG_LEVEL: 'info' }),
    );
    procs.push(...relays);
    const relaysUp = await Promise.all(relays.map((r) => waitForOutput(r, /relay running/, 120_000)));
    log(`${label}: 2 API servers (ports ${servers.map((s) => s.port).join(', ')}) and 2 relays up in ${Date.now() - t0} ms`);
    const [accounts] = (await sqlClient.query('select (select count(*) from accounts)::int as accounts, (select count(*) from users where role = $1)::int as admins', ['admin'])).rows as Row[];
    check(`${label}: 2 API servers started together on one empty database and 2 relays are running; one account, one admin`,
      relaysUp.every(Boolean) && accounts?.['accounts'] === 1 && accounts?.['admins'] === 1,
      `relays up: ${relaysUp.join(',')}; accounts ${String(accounts?.['accounts'])}, admins ${String(accounts?.['admins'])}`,
      relays.filter((_, i) => !relaysUp[i]).map((r) => `${r.name}: ${clip(r.output().slice(-1500), 1500)}`));
    if (!relaysUp.every(Boolean)) return;

    const ticket = await api(servers[0]!.baseUrl, 'POST', '/api/v2/tickets', { auth: ADMIN_AUTH, json: { ticket: { subject: 'Two processes', comment: { body: 'Shared PostgreSQL' } } } });
    const ticketId = isRecord(ticket.body) && isRecord(ticket.body['ticket']) ? Number(ticket.body['ticket']['id']) : NaN;
    if (!check(`${label}: setup ticket`, ticket.status === 201 && ticketId > 0, `HTTP ${ticket.status}`, [clip(ticket.text)])) return;

    // ---- load: creates and replies interleaved, alternating servers
    const conversations: Conversation[] = [];
    const createProblems: string[] = [];
    const replyProblems: string[] = [];
    const eventIds = new Set<string>();
    const duplicateIds: string[] = [];
    let createsIssued = 0;
    let repliesSent = 0;
    let turn = 0;
    const started = Date.now();
    const deadline = started + (options.short ? 90_000 : 300_000);
    const noteEvent = (id: string) => {
      if (eventIds.has(id)) duplicateIds.push(id);
      eventIds.add(id);
    };
    const worker = async () => {
      for (;;) {
        if (Date.now() > deadline) return;
        const replyable = conversations.filter((c) => c.repliesLeft > 0);
        const doCreate = createsIssued < creates && (replyable.length === 0 || Math.random() < 0.55);
        if (!doCreate && replyable.length === 0) {
          if (createsIssued >= creates) return;
          await sleep(5);
          continue;
        }
        if (doCreate) {
          const n = ++createsIssued;
          const server = servers[turn++ % 2]!;
          const to = [{ email: `multi${n}@example.com`, name: `Multi ${n}` }, ...(n % 2 ? [{ email: `multi${n}-cc@example.org` }] : [])];
          const subject = `multi #${n}`;
          const res = await api(server.baseUrl, 'POST', `/api/v2/tickets/${ticketId}/side_conversations`, {
            auth: ADMIN_AUTH, json: { message: { subject, body: `Create ${n}`, to } }, timeoutMs: 60_000,
          });
          const b = res.body as Row;
          const sc = isRecord(b?.['side_conversation']) ? (b['side_conversation'] as Row) : null;
          const ev = isRecord(b?.['event']) ? (b['event'] as Row) : null;
          const problems: string[] = [];
          if (res.status !== 201) problems.push(`HTTP ${res.status} ${res.error ?? clip(res.text)}`);
          else if (!sc || !ev) problems.push(`no envelope: ${clip(res.text)}`);
          else {
            const id = String(sc['id']);
            if (!UUID.test(id)) problems.push(`side_conversation.id ${id}`);
            if (ev['side_conversation_id'] !== id) problems.push(`event.side_conversation_id ${String(ev['side_conversation_id'])} != ${id}`);
            if (ev['type'] !== 'create') problems.push(`event.type ${String(ev['type'])}`);
            if (ev['ticket_id'] !== ticketId || sc['ticket_id'] !== ticketId) problems.push(`ticket ids ${String(ev['ticket_id'])}/${String(sc['ticket_id'])}`);
            if (sc['subject'] !== subject) problems.push(`subject ${clip(sc['subject'])}`);
            if (sc['url'] !== `${server.baseUrl}/api/v2/tickets/${ticketId}/side_conversations/${id}`) problems.push(`url ${clip(sc['url'])}`);
            const emails = ((sc['participants'] as Row[]) ?? []).map((p) => p['email']);
            if (emails.join(',') !== [ADMIN_EMAIL, ...to.map((t) => t.email)].join(',')) problems.push(`participants ${clip(emails)}`);
            if (!UUID.test(String(ev['id']))) problems.push(`event.id ${String(ev['id'])}`);
            if (problems.length === 0) {
              noteEvent(String(ev['id']));
              conversations.push({ id, createdOn: (turn - 1) % 2, createEventId: String(ev['id']), replyEventIds: [], repliesLeft: repliesPerConversation });
            }
          }
          if (problems.length) createProblems.push(`create #${n} on ${server.name}: ${problems.join('; ')}`);
        } else {
          const c = replyable[Math.floor(Math.random() * replyable.length)]!;
          c.repliesLeft--;
          const server = servers[(c.createdOn + 1 + c.replyEventIds.length) % 2]!;
          const body = `Reply ${c.replyEventIds.length + 1} to ${c.id} via ${server.name}`;
          const res = await api(server.baseUrl, 'POST', `/api/v2/tickets/${ticketId}/side_conversations/${c.id}/reply`, {
            auth: ADMIN_AUTH, json: { message: { body } }, timeoutMs: 60_000,
          });
          repliesSent++;
          const b = res.body as Row;
          const sc = isRecord(b?.['side_conversation']) ? (b['side_conversation'] as Row) : null;
          const ev = isRecord(b?.['event']) ? (b['event'] as Row) : null;
          const problems: string[] = [];
          if (res.status !== 200) problems.push(`HTTP ${res.status} ${res.error ?? clip(res.text)}`);
          else if (!sc || !ev) problems.push(`no envelope: ${clip(res.text)}`);
          else {
            if (sc['id'] !== c.id) problems.push(`side_conversation.id ${String(sc['id'])}`);
            if (ev['side_conversation_id'] !== c.id) problems.push(`event.side_conversation_id ${String(ev['side_conversation_id'])}`);
            if (ev['type'] !== 'reply') problems.push(`event.type ${String(ev['type'])}`);
            if (!isRecord(ev['message']) || ev['message']['body'] !== body) problems.push('event.message.body differs');
            if (!UUID.test(String(ev['id']))) problems.push(`event.id ${String(ev['id'])}`);
            if (problems.length === 0) {
              noteEvent(String(ev['id']));
              c.replyEventIds.push(String(ev['id']));
            }
          }
          if (problems.length) replyProblems.push(`reply to ${c.id} on ${server.name}: ${problems.join('; ')}`);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const replies = conversations.reduce((n, c) => n + c.replyEventIds.length, 0);
    log(`${label}: ${createsIssued} creates and ${repliesSent} replies in ${Date.now() - started} ms`);
    check(`${label}: every create answered 201 with ids that check out (alternating servers)`, createProblems.length === 0 && conversations.length === creates,
      `${conversations.length} of ${creates} good`, createProblems);
    check(`${label}: every reply answered 200 with ids that check out`, replyProblems.length === 0 && replies === creates * repliesPerConversation,
      `${replies} of ${creates * repliesPerConversation} good`, replyProblems);
    check(`${label}: no event id was handed out twice`, duplicateIds.length === 0, `${eventIds.size} distinct event ids`, duplicateIds);

    // ---- each conversation read through the other server
    const readProblems: string[] = [];
    await mapLimit(conversations, 8, async (c) => {
      const server = servers[(c.createdOn + 1) % 2]!;
      const res = await api(server.baseUrl, 'GET', `/api/v2/tickets/${ticketId}/side_conversations/${c.id}/events`, { auth: ADMIN_AUTH });
      const events = isRecord(res.body) ? ((res.body['events'] as Row[]) ?? []) : [];
      const ids = events.map((e) => String(e['id']));
      const want = [c.createEventId, ...c.replyEventIds];
      if (res.status !== 200 || [...ids].sort().join() !== [...want].sort().join() || events[0]?.['type'] !== 'create') {
        readProblems.push(`${c.id} via ${server.name}: HTTP ${res.status}, events ${clip(events.map((e) => `${String(e['type'])}:${String(e['id'])}`))}, want ${clip(want)}`);
      }
    });
    check(`${label}: each conversation reads back with all its events through the other server`, readProblems.length === 0, `${conversations.length} read`, readProblems);

    // ---- the outbox drains
    const drainStarted = Date.now();
    const drainLimit = options.short ? 60_000 : 180_000;
    let pending = -1;
    while (Date.now() - drainStarted < drainLimit) {
      const { rows } = await sqlClient.query("select count(*)::int as n from outbox where status = 'pending'");
      pending = Number((rows[0] as Row)['n']);
      if (pending === 0) break;
      await sleep(250);
    }
    check(`${label}: the outbox has no pending rows within ${drainLimit / 1000} s`, pending === 0, `${pending} pending after ${Date.now() - drainStarted} ms`);
    await sleep(500); // anything sent twice would arrive now
    const outbox = (await sqlClient.query('select id, event_id::text as event_id, status, attempts, claimed_by, last_error from outbox order by id')).rows as Row[];
    const deliveries = (await sqlClient.query('select status, count(*)::int as n from deliveries group by status order by status')).rows as Row[];
    const byRelay = (await sqlClient.query("select coalesce(claimed_by, '(none)') as relay, count(*)::int as n from outbox group by 1 order by 1")).rows as Row[];
    log(`${label}: outbox rows by relay: ${byRelay.map((r) => `${String(r['relay'])}=${String(r['n'])}`).join(', ')}; sink got ${sink.messages.length} messages`);

    const outboxEvents = new Set(outbox.map((r) => String(r['event_id'])));
    const missingRows = [...eventIds].filter((id) => !outboxEvents.has(id));
    const extraRows = [...outboxEvents].filter((id) => !eventIds.has(id));
    const notDelivered = outbox.filter((r) => r['status'] !== 'delivered');
    check(`${label}: one outbox row per answered create and reply, all 'delivered'`,
      missingRows.length === 0 && extraRows.length === 0 && notDelivered.length === 0 && outbox.length === eventIds.size,
      `${outbox.length} rows for ${eventIds.size} events; ${notDelivered.length} not delivered`,
      [...missingRows.map((id) => `no outbox row for event ${id}`), ...extraRows.map((id) => `outbox row for an unknown event ${id}`),
        ...notDelivered.map((r) => `outbox ${String(r['id'])}: ${String(r['status'])} after ${String(r['attempts'])} attempts: ${clip(r['last_error'])}`)]);

    const counts = sink.counts();
    // Message-IDs are a keyed hash of the event id (threading.ts): the ones recorded for these events.
    const recorded = (await sqlClient.query("select event_id::text as event_id, message_id from email_messages where direction = 'outbound'")).rows as Row[];
    const expectedIds = new Set(recorded.filter((r) => eventIds.has(String(r['event_id']))).map((r) => String(r['message_id'])));
    const twice = [...counts].filter(([, n]) => n > 1);
    const never = [...expectedIds].filter((id) => !counts.has(id));
    const strays = [...counts.keys()].filter((id) => !expectedIds.has(id));
    check(`${label}: the SMTP sink saw each Message-ID exactly once`, twice.length === 0 && never.length === 0 && strays.length === 0,
      `${counts.size} distinct of ${sink.messages.length} messages for ${expectedIds.size} events`,
      [...twice.map(([id, n]) => `${id} arrived ${n} times`), ...never.map((id) => `${id} never arrived`), ...strays.map((id) => `unexpected Message-ID ${id}`)]);
    const notSent = deliveries.filter((d) => d['status'] !== 'sent');
    check(`${label}: every delivery row is 'sent'`, notSent.length === 0, deliveries.map((d) => `${String(d['status'])}=${String(d['n'])}`).join(', '));

    // ---- everyone still up, and stops cleanly
    const stopProblems: string[] = [];
    for (const p of procs) {
      if (!p.alive()) stopProblems.push(`${p.name} died: exit ${String(await p.exited)}: ${clip(p.output().slice(-1500), 1500)}`);
    }
    const codes = await Promise.all(procs.map((p) => p.stop()));
    procs.forEach((p, i) => codes[i] !== 0 && stopProblems.push(`${p.name} exited ${String(codes[i])}: ${clip(p.output().slice(-1500), 1500)}`));
    check(`${label}: all four processes stayed up and stopped cleanly on SIGTERM`, stopProblems.length === 0, `exit codes ${codes.join(',')}`, stopProblems);
  } finally {
    for (const p of procs) if (p.alive()) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await sqlClient.end().catch(() => undefined);
    await sink.close();
    await database.drop().catch(() => undefined);
  }
}
