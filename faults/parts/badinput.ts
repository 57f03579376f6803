/**
 * Part 3, bad input: the generated corpus (badinput/corpus.ts, badinput/special.ts) against every
 * endpoint of a real server. On PostgreSQL each request is bracketed by a fingerprint of the whole
 * store (row count and row digest of every table, through pg), so a refused request that wrote
 * anything is caught. Liveness (/healthz and the process) is checked after each endpoint's batch.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { api, basicAuth, rawRequest, type RawRequest, type RawResponse } from '../lib/http.js';
import { Fingerprinter, fingerprintDiff } from '../lib/pg.js';
import { startServer, type SidelineProcess } from '../lib/procs.js';
import { check, clip, log, section } from '../lib/report.js';
import { ADMIN_AUTH, ADMIN_EMAIL, STORE_LABEL, isRecord, openStoreHandle, sleep, type StoreKind } from '../lib/sideline.js';
import { discoverEndpoints, key, type Endpoint } from '../badinput/endpoints.js';
import { framingCases, genericCases, headerCases, type Case, type Ctx } from '../badinput/corpus.js';
import { inboundCases, multipartCases, slackCases, teamsCases } from '../badinput/special.js';
import { TEAMS_ISSUER, startTeamsFake } from '../badinput/fakes.js';

type Outcome = 'accepted' | 'refused' | 'refused-other' | 'parser' | 'server-error' | 'dependency' | 'no-answer' | 'other';

interface Result {
  c: Case;
  status: number;
  outcome: Outcome;
  ms: number;
  body: string;
  failure?: string;
  storeChange?: string[];
  contentChangeOnly?: boolean;
  /** Bytes of the request body sent. */
  bodyBytes: number;
}

/** The server's body limit (its default: the harness sets no BODY_LIMIT_BYTES). */
const SERVER_BODY_LIMIT = 1024 * 1024;

/**
 * A request refused before its body is read (a body over the limit: 413; a route that is off or a
 * failed check: 404/401 at onRequest) is answered while the client may still be writing; with no
 * `Expect: 100-continue`, TCP then resets the socket, which can discard the answer before the client
 * reads it (seen on main too: 4 of 6 raw 2 MiB posts). EPIPE says exactly that: our write failed
 * because the server had closed. That reset is the refusal, not a dropped request.
 */
function closedBeforeBodyRead(r: Result): boolean {
  const failure = r.failure ?? '';
  return failure === 'reset: EPIPE' || (r.bodyBytes > SERVER_BODY_LIMIT && failure.startsWith('reset'));
}

/**
 * The live event stream answers 200 and stays open by design (heartbeats until the client leaves),
 * which this harness's one-shot requests would count as hangs; test/events/stream.test.ts covers it.
 */
const LONG_LIVED = new Set(['GET /api/v2/sideline/stream']);

const SLACK_SECRET = 'faults-slack-signing-secret-0123';
const TEAMS_APP_ID = 'faults-teams-app-id';
const INBOUND_SECRET = 'faults-inbound-secret-0123456789';
const RECIPIENT = 'fault-recipient@example.com';

/** Zendesk's error bodies: {error: "Name", description?, details?} or {error: {title, message}}. */
export function zendeskStyle(json: unknown): boolean {
  if (!isRecord(json)) return false;
  const keys = Object.keys(json);
  const e = json['error'];
  if (typeof e === 'string') {
    return e.length > 0 && keys.every((k) => ['error', 'description', 'details'].includes(k)) &&
      (json['description'] === undefined || typeof json['description'] === 'string') &&
      (json['details'] === undefined || isRecord(json['details']));
  }
  return isRecord(e) && typeof e['title'] === 'string' && typeof e['message'] === 'string' && keys.length === 1;
}

function slackUnavailable(body: string): boolean {
  try {
    const json: unknown = JSON.parse(body);
    return zendeskStyle(json) && isRecord(json) && json['error'] === 'SlackUnavailable';
  } catch {
    return false;
  }
}

function classify(res: RawResponse): Outcome {
  if (res.status === 0 || (res.failure && res.failure !== 'closed')) return 'no-answer';
  // The harness runs no Slack: an endpoint that has to ask Slack says so with a 502 SlackUnavailable,
  // which is a degraded answer about a dependency, not a failure on bad input.
  if (res.status === 502 && slackUnavailable(res.body.toString('utf8'))) return 'dependency';
  if (res.status >= 500) return 'server-error';
  if (res.status >= 200 && res.status < 300) return 'accepted';
  if (res.status >= 400) {
    if (!res.headers['content-type'] && res.body.length === 0) return 'parser';
    // Fastify's clientError handler: Node's HTTP parser refused the bytes before any routing.
    if (isRecord(res.json) && Object.keys(res.json).sort().join() === 'error,message,statusCode') return 'parser';
    return zendeskStyle(res.json) && (res.headers['content-type'] ?? '').includes('application/json') ? 'refused' : 'refused-other';
  }
  return 'other';
}

/** Short form: per endpoint and category, a few cases spread over the list, plus the core ones. */
function shortSelection(cases: Case[], perGroup: number): Case[] {
  const groups = new Map<string, Case[]>();
  for (const c of cases) {
    const g = `${c.endpoint}|${c.category}`;
    groups.set(g, [...(groups.get(g) ?? []), c]);
  }
  const keep = new Set<Case>();
  for (const list of groups.values()) {
    const special = ['multipart', 'inbound-email', 'slack', 'teams'].includes(list[0]!.category);
    if (special) {
      list.forEach((c) => keep.add(c));
      continue;
    }
    list.filter((c) => c.core).forEach((c) => keep.add(c));
    const n = Math.min(perGroup, list.length);
    for (let i = 0; i < n; i++) keep.add(list[Math.floor((i * list.length) / n)]!);
  }
  return cases.filter((c) => keep.has(c));
}

function uploadNameProblem(json: unknown): string | null {
  if (!isRecord(json)) return null;
  for (const field of ['file_name', 'name']) {
    const v = json[field];
    if (typeof v !== 'string') continue;
    if (/[\\/]/.test(v) || v.startsWith('.') || /[\u0000-\u001f\u007f]/.test(v) || v.length > 255) return `${field} ${clip(v)}`;
  }
  return null;
}

async function uploadFile(port: number, auth: string, name: string, data: Buffer): Promise<string | null> {
  const boundary = `seed${randomBytes(6).toString('hex')}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const res = await rawRequest(port, { method: 'POST', target: '/api/v2/tickets/side_conversations/attachments', headers: [['Authorization', auth], ['Content-Type', `multipart/form-data; boundary=${boundary}`]], body });
  return res.status === 201 && isRecord(res.json) ? String(res.json['id']) : null;
}

const bodyOf = (r: { body: unknown }, k1: string, k2 = 'id'): unknown => (isRecord(r.body) && isRecord(r.body[k1]) ? r.body[k1][k2] : undefined);

export async function badInputPart(store: StoreKind, options: { short: boolean }): Promise<void> {
  const label = `badinput/${STORE_LABEL[store]}`;
  section(`Part 3: bad input against every endpoint on ${STORE_LABEL[store]}${store === 'pglite' ? ' (status codes and liveness only)' : ''}`);
  const handle = await openStoreHandle(store, `bad_${store}`);
  const teamsFake = await startTeamsFake();
  const env: Record<string, string> = {
    ...handle.env,
    // PostgreSQL: no relay, so nothing but the request under test writes. PGlite: the in-process relay
    // writes the first email as an .eml file, where the harness reads its reply address.
    RELAY: store === 'postgres' ? 'off' : 'on',
    RELAY_POLL_MS: '100',
    LOG_LEVEL: 'warn',
    INBOUND_EMAIL_SECRET: INBOUND_SECRET,
    INBOUND_MAX_BYTES: String(4 * 1024 * 1024),
    ATTACHMENT_MAX_BYTES: String(2 * 1024 * 1024),
    SIDELINE_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    TEAMS_OPENID_METADATA_URL: teamsFake.metadataUrl,
    TEAMS_JWT_ISSUER: TEAMS_ISSUER,
    // The Teams bot's service_url is a loopback fake: allowed only when the operator says so.
    OUTBOUND_ALLOW_PRIVATE: 'true',
  };
  let server: SidelineProcess | null = null;
  let sql: pg.Client | null = null;
  const crashes: string[] = [];
  const outputs: string[] = [];
  try {
    server = await startServer(`${label} server`, env);
    if (handle.database) sql = await handle.database.client();
    const base = () => server!.baseUrl;
    const post = (path: string, json: unknown, auth = ADMIN_AUTH) => api(base(), 'POST', path, { auth, json });

    // ---------------------------------------------------------------- seed
    const throwaway = await post('/api/v2/api_tokens', { api_token: { description: 'to be deleted' } });
    const bearerToken = await post('/api/v2/api_tokens', { api_token: { description: 'fault harness' } });
    const agent = await post('/api/v2/users', { user: { name: 'Fault Agent', email: 'fault-agent@example.com', role: 'agent', password: 'fault-agent-password' } });
    const endUser = await post('/api/v2/users', { user: { name: 'Fault End User', email: 'fault-end-user@example.com', role: 'end-user', password: 'fault-end-user-password' } });
    const group = await post('/api/v2/groups', { group: { name: 'Fault group' } });
    await post('/api/v2/group_memberships', { group_membership: { user_id: Number(bodyOf(agent, 'user')), group_id: Number(bodyOf(group, 'group')) } });
    const ticketA = await post('/api/v2/tickets', { ticket: { subject: 'Fault ticket A', comment: { body: 'Side conversations live here' } } });
    const ticketB = await post('/api/v2/tickets', { ticket: { subject: 'Fault ticket B', comment: { body: 'Updated by the corpus' } } });
    const ticketAId = Number(bodyOf(ticketA, 'ticket'));
    const scEmail = await post(`/api/v2/tickets/${ticketAId}/side_conversations`, { message: { subject: 'Fault email conversation', body: 'Hello', to: [{ email: RECIPIENT, name: 'Fault Recipient' }] } });
    const reseedIntegrations = async () => {
      await post('/api/v2/sideline/integrations/slack', { slack_workspace: { team_id: 'T0FAULTS', bot_token: 'xoxb-faults', signing_secret: SLACK_SECRET, name: 'Faults' } });
      await post('/api/v2/sideline/integrations/slack', { slack_workspace: { team_id: 'T0DELETE', bot_token: 'xoxb-delete', signing_secret: 'delete-me-secret', name: 'Delete me' } });
      await api(base(), 'PUT', '/api/v2/sideline/integrations/teams', { auth: ADMIN_AUTH, json: { teams_bot: { app_id: TEAMS_APP_ID, app_password: 'faults-app-password', tenant_id: 'faults-tenant', service_url: 'http://127.0.0.1:9/teams' } } });
    };
    await reseedIntegrations();
    const scSlack = await post(`/api/v2/tickets/${ticketAId}/side_conversations`, { message: { body: 'To Slack', to: [{ slack_workspace_id: 'T0FAULTS', slack_channel_id: 'C0FAULTS' }] } });
    const scTeams = await post(`/api/v2/tickets/${ticketAId}/side_conversations`, { message: { body: 'To Teams', to: [{ msteams_channel_id: '19:faults@thread.tacv2' }] } });
    const bearer = `Bearer ${String(bodyOf(bearerToken, 'api_token', 'token'))}`;
    const unbound = await uploadFile(server.port, bearer, 'photo.png', Buffer.from('unbound upload'));
    const toBind = await uploadFile(server.port, bearer, 'photo.png', Buffer.from('bound upload'));
    const scEmailId = String(bodyOf(scEmail, 'side_conversation'));
    await post(`/api/v2/tickets/${ticketAId}/side_conversations/${scEmailId}/reply`, { message: { body: 'With a file', attachment_ids: [toBind] } });

    let threadTs: string | null = null;
    let conversationId: string | null = null;
    let replyToken: string | null = null;
    const setThreads = async () => {
      if (!sql) return;
      threadTs = '1700000000.000100';
      conversationId = '19:faults@thread.tacv2;messageid=1700000000001';
      await sql.query('update side_conversations set thread_ref = $1 where id = $2', [threadTs, String(bodyOf(scSlack, 'side_conversation'))]);
      await sql.query('update side_conversations set thread_ref = $1 where id = $2', [conversationId, String(bodyOf(scTeams, 'side_conversation'))]);
    };
    await setThreads();
    if (sql) {
      const { rows } = await sql.query('select reply_token from side_conversations where id = $1', [scEmailId]);
      replyToken = (rows[0] as { reply_token?: string } | undefined)?.reply_token ?? null;
    } else {
      // The relay wrote the first message as an .eml file; its Reply-To carries the token.
      const dir = join(handle.dataDir, 'outbox-mail');
      const createEvent = String(bodyOf(scEmail, 'event'));
      for (let i = 0; i < 100 && !replyToken; i++) {
        try {
          const file = readdirSync(dir).find((f) => f.includes(createEvent));
          if (file) replyToken = /reply\+([0-9a-f]{32})@/.exec(readFileSync(join(dir, file), 'utf8'))?.[1] ?? null;
        } catch {
          /* not written yet */
        }
        if (!replyToken) await sleep(100);
      }
    }
    let counter = 0;
    const ctx: Ctx = {
      port: server.port,
      store,
      bearer,
      adminBasic: ADMIN_AUTH,
      adminEmail: ADMIN_EMAIL,
      agentBasic: basicAuth('fault-agent@example.com', 'fault-agent-password'),
      endUserBasic: basicAuth('fault-end-user@example.com', 'fault-end-user-password'),
      ids: {
        ticketA: ticketAId,
        ticketB: Number(bodyOf(ticketB, 'ticket')),
        scEmail: scEmailId,
        scEmailCreateEvent: String(bodyOf(scEmail, 'event')),
        unboundAttachment: String(unbound),
        boundAttachment: String(toBind),
        throwawayToken: Number(bodyOf(throwaway, 'api_token')),
        adminUserId: 1,
        agentUserId: Number(bodyOf(agent, 'user')),
        groupId: Number(bodyOf(group, 'group')),
      },
      recipientEmail: RECIPIENT,
      replyToken,
      slack: { teamId: 'T0FAULTS', secret: SLACK_SECRET, channel: 'C0FAULTS', threadTs },
      teams: { appId: TEAMS_APP_ID, conversationId, token: (o) => teamsFake.token(TEAMS_APP_ID, o) },
      inboundSecret: INBOUND_SECRET,
      uniq: () => `${Date.now().toString(36)}${(counter++).toString(36)}`,
    };
    const seedOk = [throwaway, bearerToken, agent, endUser, group, ticketA, ticketB, scEmail, scSlack, scTeams].every((r) => r.status === 201) && unbound !== null && toBind !== null && (replyToken !== null);
    if (!check(`${label}: setup (users, tokens, tickets, email/Slack/Teams conversations, uploads, reply token)`, seedOk,
      `reply token ${replyToken ? 'found' : 'missing'}`,
      [throwaway, bearerToken, agent, endUser, group, ticketA, ticketB, scEmail, scSlack, scTeams].filter((r) => r.status !== 201).map((r) => `HTTP ${r.status} ${clip(r.text)}`))) return;

    // ---------------------------------------------------------------- endpoints and corpus
    const openapi = await api(base(), 'GET', '/api/v2/openapi.json');
    const { endpoints, onlyInSource, onlyInOpenApi } = discoverEndpoints(openapi.body as Parameters<typeof discoverEndpoints>[0]);
    log(`${label}: ${endpoints.length} endpoints (${endpoints.length - onlyInSource.length} in the OpenAPI document; only in src routes: ${onlyInSource.join(', ') || 'none'}${onlyInOpenApi.length ? `; not found in src: ${onlyInOpenApi.join(', ')}` : ''})`);
    const representative = new Set(['POST /api/v2/tickets', 'POST /api/v2/tickets/:ticket_id/side_conversations', 'GET /api/v2/tickets/:ticket_id/side_conversations']);
    const byEndpoint = new Map<string, Case[]>();
    for (const e of endpoints) {
      const cases = genericCases(e, endpoints);
      if (e.bodyKind === 'multipart') cases.push(...multipartCases(e));
      if (e.bodyKind === 'rfc822') cases.push(...inboundCases(e));
      if (e.bodyKind === 'slack') cases.push(...slackCases(e));
      if (e.bodyKind === 'teams') cases.push(...teamsCases(e));
      if (representative.has(key(e))) cases.push(...headerCases(e), ...framingCases(e));
      const filter = process.env['FAULTS_ENDPOINTS'];
      const chosen = LONG_LIVED.has(key(e)) || (filter && !filter.split(',').some((f) => key(e).includes(f))) ? [] : cases;
      byEndpoint.set(key(e), options.short ? shortSelection(chosen, 3) : chosen);
    }
    // Destructive endpoints last, so what they remove is not missed by the others.
    const order = [...endpoints].sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    const total = [...byEndpoint.values()].reduce((n, l) => n + l.length, 0);
    log(`${label}: ${total} requests in the corpus${options.short ? ' (short form)' : ''}`);

    // ---------------------------------------------------------------- run
    const fp = sql ? new Fingerprinter(sql) : null;
    const results: Result[] = [];
    const batchesDown: string[] = [];
    const exercised = new Set<string>();
    let last = fp ? await fp.take() : null;
    const started = Date.now();
    let done = 0;
    for (const e of order) {
      const cases = byEndpoint.get(key(e)) ?? [];
      for (const c of cases) {
        let request: RawRequest | Buffer;
        try {
          request = await c.build(ctx);
        } catch (error) {
          results.push({ c, status: 0, outcome: 'no-answer', ms: 0, body: '', bodyBytes: 0, failure: `harness could not build the request: ${String(error)}` });
          continue;
        }
        const res = await rawRequest(server.port, request, c.timeoutMs ?? 30_000);
        const outcome = classify(res);
        const bodyBytes = Buffer.isBuffer(request) ? request.length : request.body === undefined ? 0 : Buffer.byteLength(request.body);
        const result: Result = { c, status: res.status, outcome, ms: res.ms, body: res.text.slice(0, 400), bodyBytes, ...(res.failure ? { failure: res.failure } : {}) };
        exercised.add(c.endpoint);
        if (fp && last) {
          // A response can leave before its work is done; give the store a moment on writes that were refused.
          let now = await fp.take();
          if (outcome !== 'accepted' && fingerprintDiff(last, now).length > 0) {
            await sleep(50);
            now = await fp.take();
          }
          const diff = fingerprintDiff(last, now);
          if (outcome !== 'accepted' && diff.length > 0) {
            result.storeChange = diff;
            result.contentChangeOnly = diff.every((d) => d.includes('content changed'));
          }
          last = now;
        }
        results.push(result);
        if (++done % 250 === 0) log(`${label}: ${done}/${total} requests, ${((Date.now() - started) / 1000).toFixed(0)} s`);
      }
      // liveness after the batch
      const health = await api(server.baseUrl, 'GET', '/healthz', { timeoutMs: 10_000 });
      const alive = server.alive() && health.status === 200 && isRecord(health.body) && health.body['status'] === 'ok';
      const mine = results.slice(results.length - cases.length);
      const n = (o: Outcome) => mine.filter((r) => r.outcome === o).length;
      process.stdout.write(`    batch ${key(e).padEnd(100)} ${String(mine.length).padStart(4)} tried, ${String(n('refused') + n('refused-other') + n('parser')).padStart(4)} refused, ${String(n('accepted')).padStart(3)} 2xx, ${String(n('server-error')).padStart(3)} 5xx; /healthz after: ${alive ? 'alive' : 'DOWN'}\n`);
      if (!alive) {
        batchesDown.push(`${key(e)}: healthz HTTP ${health.status}${health.error ? ` (${health.error})` : ''}, process ${server.alive() ? 'alive' : `exited ${String(await server.exited)}`}`);
        crashes.push(server.output().slice(-3000));
        server.kill('SIGKILL');
        await server.exited;
        outputs.push(...server.errorLines());
        server = await startServer(`${label} server (after a crash)`, env);
        ctx.port = server.port;
      }
      // Put back what the batch may have changed (integrations replaced or removed, tokens revoked).
      await reseedIntegrations();
      await setThreads();
      const me = await api(server.baseUrl, 'GET', '/api/v2/users/me', { auth: ctx.bearer });
      if (me.status !== 200) {
        const again = await post('/api/v2/api_tokens', { api_token: { description: 'fault harness (again)' } });
        ctx.bearer = `Bearer ${String(bodyOf(again, 'api_token', 'token'))}`;
      }
      if (fp) last = await fp.take();
    }
    const elapsed = (Date.now() - started) / 1000;
    outputs.push(...server.errorLines());

    // ---------------------------------------------------------------- report
    const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
    const categories = [...new Set(results.map((r) => r.c.category))];
    process.stdout.write(`\n  ${label}: ${results.length} requests in ${elapsed.toFixed(1)} s against ${exercised.size} endpoints\n`);
    process.stdout.write(`  ${'category'.padEnd(17)} ${'tried'.padStart(6)} ${'refused'.padStart(8)} ${'non-ZD'.padStart(7)} ${'parser'.padStart(7)} ${'2xx'.padStart(6)} ${'5xx'.padStart(5)} ${'no ans'.padStart(7)}\n`);
    for (const cat of [...categories, 'TOTAL']) {
      const rs = cat === 'TOTAL' ? results : results.filter((r) => r.c.category === cat);
      const n = (o: Outcome) => rs.filter((r) => r.outcome === o).length;
      process.stdout.write(`  ${cat.padEnd(17)} ${String(rs.length).padStart(6)} ${String(n('refused')).padStart(8)} ${String(n('refused-other')).padStart(7)} ${String(n('parser')).padStart(7)} ${String(n('accepted')).padStart(6)} ${String(n('server-error')).padStart(5)} ${String(n('no-answer')).padStart(7)}\n`);
    }
    process.stdout.write(`  requests tried: ${results.length}; refused correctly (4xx, Zendesk-style JSON body): ${count('refused')}; ` +
      `refused with another body: ${count('refused-other')}; refused by Node's HTTP parser: ${count('parser')}; accepted (2xx): ${count('accepted')}; ` +
      `5xx: ${count('server-error')}; 502 SlackUnavailable (no Slack here): ${count('dependency')}; no answer: ${count('no-answer')}; server alive after every batch: ${batchesDown.length === 0 ? 'yes' : `no (${batchesDown.length} batches)`}\n`);
    const accepted = results.filter((r) => r.outcome === 'accepted');
    const sample: Result[] = [];
    for (const cat of categories) sample.push(...accepted.filter((r) => r.c.category === cat).slice(0, 2));
    process.stdout.write(`  accepted, a sample (${Math.min(sample.length, 24)} of ${accepted.length}):\n`);
    for (const r of sample.slice(0, 24)) process.stdout.write(`    ${r.status} ${r.c.endpoint} [${r.c.category}] ${clip(r.c.name, 90)}\n`);

    const fmt = (r: Result) => `${r.c.endpoint} [${r.c.category}] ${clip(r.c.name, 100)} → ${r.status || r.failure} ${clip(r.body, 160)}`;
    for (const k of LONG_LIVED) log(`${label}: ${k} left out (a long-lived stream; test/events/stream.test.ts covers it)`);
    check(`${label}: every endpoint exercised (OpenAPI document + src routes)`, !!process.env['FAULTS_ENDPOINTS'] || endpoints.every((e) => exercised.has(key(e)) || LONG_LIVED.has(key(e))),
      `${exercised.size}/${endpoints.length} endpoints`, endpoints.filter((e) => !exercised.has(key(e))).map(key));
    const errors = results.filter((r) => r.outcome === 'server-error');
    check(`${label}: no 5xx`, errors.length === 0, `${errors.length} of ${results.length}`, errors.map(fmt));
    const dropped = results.filter((r) => r.outcome === 'no-answer' && !(r.c.framing && r.failure !== 'timeout') && !closedBeforeBodyRead(r));
    const resets = results.filter(closedBeforeBodyRead);
    if (resets.length > 0) log(`${label}: ${resets.length} requests were refused before their body was read and reset before the answer could be read (see closedBeforeBodyRead)`);
    check(`${label}: every request answered (no hang, no dropped connection outside HTTP framing abuse)`, dropped.length === 0, `${dropped.length} without an answer`, dropped.map(fmt));
    const nonZendesk = results.filter((r) => r.outcome === 'refused-other' || (r.outcome === 'parser' && !r.c.framing));
    check(`${label}: every refusal by the application has a Zendesk-style JSON error body`, nonZendesk.length === 0,
      `${nonZendesk.length} refusals with another body`, nonZendesk.map(fmt));
    const wronglyAccepted = results.filter((r) => r.c.expect === 'refuse' && r.outcome === 'accepted');
    check(`${label}: every request that must be refused was refused`, wronglyAccepted.length === 0,
      `${results.filter((r) => r.c.expect === 'refuse').length} must-refuse cases, ${wronglyAccepted.length} accepted`, wronglyAccepted.map(fmt));
    const uploadProblems = results.filter((r) => r.c.inspect === 'upload' && r.outcome === 'accepted').flatMap((r) => {
      const problem = uploadNameProblem((() => { try { return JSON.parse(r.body) as unknown; } catch { return null; } })());
      return problem ? [`${fmt(r)}: ${problem}`] : [];
    });
    if (sql) {
      const { rows } = await sql.query<{ file_name: string }>("select file_name from attachments where file_name ~ '[/\\\\]' or file_name like '.%' or file_name ~ '[[:cntrl:]]'");
      uploadProblems.push(...rows.map((r) => `stored attachment name ${clip(r.file_name)}`));
    }
    check(`${label}: accepted uploads and inbound attachments keep no path, dots or control characters in their names`, uploadProblems.length === 0,
      `${results.filter((r) => r.c.inspect === 'upload' && r.outcome === 'accepted').length} accepted uploads checked`, uploadProblems);
    if (fp) {
      const counted = results.filter((r) => r.storeChange && !r.contentChangeOnly);
      check(`${label}: refused requests left the row count of every table unchanged`, counted.length === 0,
        `${results.filter((r) => r.outcome !== 'accepted').length} refused requests fingerprinted`, counted.map((r) => `${fmt(r)} :: ${r.storeChange!.join(', ')}`));
      const content = results.filter((r) => r.storeChange && r.contentChangeOnly);
      check(`${label}: refused requests left every row unchanged (row digests)`, content.length === 0, `${content.length} changed rows in place`,
        content.map((r) => `${fmt(r)} :: ${r.storeChange!.join(', ')}`));
    }
    check(`${label}: the server is alive (GET /healthz 200 and the process running) after every batch`, batchesDown.length === 0,
      `${order.length} batches`, [...batchesDown, ...crashes.map((c) => clip(c, 1500))]);

    // What the server itself said went wrong (its error log), grouped: the suspects of any 5xx.
    const logged = new Map<string, number>();
    for (const line of outputs) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string; stack?: string } };
        if ((entry.level ?? 0) < 50) continue;
        const frame = (entry.err?.stack ?? '').split('\n').find((l) => l.includes('/src/') && !l.includes('node_modules'));
        const where = frame ? (/\/src\/([^:)]+:\d+)/.exec(frame)?.[1] ?? '') : '';
        const k2 = `${entry.msg ?? ''}: ${clip(entry.err?.message ?? '', 140)}${where ? ` (src/${where})` : ''}`;
        logged.set(k2, (logged.get(k2) ?? 0) + 1);
      } catch {
        /* not a log line */
      }
    }
    if (logged.size) {
      process.stdout.write(`  the server logged these errors:\n`);
      for (const [msg, n] of [...logged].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`    ${String(n).padStart(4)} × ${msg}\n`);
    }
  } finally {
    if (server?.alive()) server.kill('SIGKILL');
    if (server) await server.exited;
    await sql?.end().catch(() => undefined);
    await teamsFake.close();
    await handle.cleanup();
  }
}
