/**
 * The migration tests' source and their comparison: a Sideline seeded with people, groups, tickets
 * and side conversations of every kind (served over HTTP on a loopback port, as a real source is),
 * and a snapshot of an account read through its API with every local id replaced by what it names.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { createAttachmentsService } from '../../src/attachments/service.js';
import { DatabaseBlobStore } from '../../src/attachments/storage.js';
import { migrate, type MigrateOptions, type Summary } from '../../src/imports/migrate/migrate.js';
import { ZendeskSource, type SourceOptions } from '../../src/imports/migrate/source.js';
import type { TestApp } from './app.js';
import { expectStatus, multipartFile, pathOf } from './api.js';
import { png } from './png.js';

export interface SeededSource {
  url: string;
  email: string;
  token: string;
  counts: { tickets: number; sideConversations: number };
}

async function ok<T>(t: Pick<TestApp, 'request'>, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, status = method === 'POST' ? 201 : 200): Promise<T> {
  const res = await t.request({ method, url, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  expectStatus(res, status);
  return res.json<T>();
}

/** Seeds `t` and serves it on a loopback port: users, groups, `ticketCount` tickets, email/Slack/child-ticket conversations. */
export async function seedSource(t: TestApp, ticketCount = 50): Promise<SeededSource> {
  await sql`insert into slack_workspaces (account_id, team_id, name, bot_token_enc, signing_secret_enc)
            values (${t.accountId}, 'T0SOURCE', 'Source workspace', 'unused', 'unused')`.execute(t.db);
  const agents: number[] = [];
  for (let i = 1; i <= 3; i++) {
    agents.push((await ok<{ user: { id: number } }>(t, 'POST', '/api/v2/users', { user: { name: `Agent ${i}`, email: `agent${i}@source.example`, role: 'agent' } })).user.id);
  }
  const customers: number[] = [];
  for (let i = 1; i <= 4; i++) {
    customers.push((await ok<{ user: { id: number } }>(t, 'POST', '/api/v2/users', { user: { name: `Customer ${i}`, email: `customer${i}@client.example` } })).user.id);
  }
  const groups: number[] = [];
  for (const name of ['Tier 2', 'Facilities']) groups.push((await ok<{ group: { id: number } }>(t, 'POST', '/api/v2/groups', { group: { name } })).group.id);
  await ok(t, 'POST', '/api/v2/group_memberships', { group_membership: { user_id: agents[0], group_id: groups[0] } });
  await ok(t, 'POST', '/api/v2/group_memberships', { group_membership: { user_id: agents[1], group_id: groups[1] } });

  let sideConversations = 0;
  for (let i = 0; i < ticketCount; i++) {
    const ticket = (
      await ok<{ ticket: { id: number } }>(t, 'POST', '/api/v2/tickets', {
        ticket: { subject: `Ticket ${i}`, comment: { body: `Customer problem ${i}` }, requester_id: customers[i % customers.length], group_id: groups[i % 2], assignee_id: agents[i % 2] },
      })
    ).ticket.id;
    if (i % 3 === 0) await ok(t, 'PUT', `/api/v2/tickets/${ticket}`, { ticket: { status: 'pending', comment: { body: `Agent note on ${i}`, public: false } } });
    const base = `/api/v2/tickets/${ticket}/side_conversations`;
    const kind = i % 4;
    if (kind === 0) {
      const upload = multipartFile(`photo-${i}.png`, 'image/png', png());
      const up = await t.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', payload: upload.payload, headers: upload.headers });
      expectStatus(up, 201);
      const sc = await ok<{ side_conversation: { id: string } }>(t, 'POST', base, {
        message: { subject: `Vendor ${i}`, body: `Please look at ${i}`, html_body: `<p>Please look at <b>${i}</b></p>`, to: [{ email: `vendor${i}@vendor.example`, name: `Vendor ${i}` }, { email: 'customer1@client.example' }], attachment_ids: [up.json<{ id: string }>().id] },
        external_ids: { crm: `case-${i}` },
      });
      sideConversations += 1;
      const bytes = Buffer.from(`report ${i}\n`.repeat(50));
      const upload2 = multipartFile(`report-${i}.txt`, 'text/plain', bytes);
      const up2 = await t.request({ method: 'POST', url: '/api/v2/tickets/side_conversations/attachments', payload: upload2.payload, headers: upload2.headers });
      expectStatus(up2, 201);
      await ok(t, 'POST', `${base}/${sc.side_conversation.id}/reply`, { message: { body: `Any news on ${i}?`, attachment_ids: [up2.json<{ id: string }>().id] } }, 200);
      await ok(t, 'PUT', `${base}/${sc.side_conversation.id}`, { side_conversation: { state: 'closed' } });
      if (i % 8 === 0) await ok(t, 'POST', `${base}/${sc.side_conversation.id}/reply`, { message: { body: `Reopened ${i}`, to: [{ email: `boss${i}@vendor.example` }] } }, 200);
    } else if (kind === 1) {
      const sc = await ok<{ side_conversation: { id: string } }>(t, 'POST', base, { message: { body: `Slack question ${i}`, to: [{ slack_workspace_id: 'T0SOURCE', slack_channel_id: 'C0VENDORS' }] } });
      sideConversations += 1;
      await ok(t, 'POST', `${base}/${sc.side_conversation.id}/reply`, { message: { body: `Slack follow-up ${i}` } }, 200);
    } else if (kind === 2) {
      const sc = await ok<{ side_conversation: { id: string; external_ids: Record<string, string> } }>(t, 'POST', base, {
        message: { subject: `Child of ${i}`, body: `Facilities, please ${i}`, to: [{ support_group_id: groups[1], support_agent_id: agents[1] }] },
      });
      sideConversations += 1;
      await ok(t, 'POST', `${base}/${sc.side_conversation.id}/reply`, { message: { body: `Child reply ${i}` } }, 200);
      if (i % 3 === 0) await ok(t, 'PUT', `${base}/${sc.side_conversation.id}`, { side_conversation: { subject: `Child of ${i} (renamed)` } });
    }
  }
  const token = (await ok<{ api_token: { token: string } }>(t, 'POST', '/api/v2/api_tokens', { api_token: { description: 'migration' } })).api_token.token;
  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const ticketTotal = (await ok<{ count: number }>(t, 'GET', '/api/v2/tickets')).count;
  return { url: address, email: t.admin.email, token, counts: { tickets: ticketTotal, sideConversations } };
}

/** Runs the migration from `url` into `target`'s account as its admin. */
export function migrateInto(target: TestApp, source: Omit<SourceOptions, 'retryBaseMs'> & { retryBaseMs?: number }, extra: Partial<MigrateOptions> = {}): Promise<Summary> {
  return migrate({
    db: target.db,
    attachments: createAttachmentsService({ db: target.db, blobs: new DatabaseBlobStore(target.db) }),
    source: new ZendeskSource({ retryBaseMs: 5, ...source }),
    actor: { accountId: target.accountId, userId: target.admin.id, name: 'Administrator', email: target.admin.email },
    ...extra,
  });
}

interface Page {
  next_page: string | null;
}

async function all<T>(t: Pick<TestApp, 'request'>, path: string, key: string): Promise<T[]> {
  const out: T[] = [];
  let next: string | null = path;
  while (next) {
    const page: Page & Record<string, unknown> = await ok<Page & Record<string, unknown>>(t, 'GET', next);
    out.push(...(page[key] as T[]));
    next = page.next_page ? pathOf(page.next_page) : null;
  }
  return out;
}

type Json = Record<string, unknown>;

/** Everything an account holds, through its API, with ids replaced by emails, names and ticket positions. */
export async function snapshot(t: Pick<TestApp, 'request'>): Promise<Json> {
  const users = await all<Json>(t, '/api/v2/users.json?per_page=100', 'users');
  const emailOf = new Map(users.map((u) => [u['id'] as number, u['email'] as string]));
  const person = (id: unknown) => (id === null || id === undefined ? null : (emailOf.get(id as number) ?? `unknown user ${String(id)}`));
  const groups = await all<Json>(t, '/api/v2/groups.json?per_page=100', 'groups');
  const groupName = new Map(groups.map((g) => [g['id'] as number, g['name'] as string]));
  const memberships = await all<Json>(t, '/api/v2/group_memberships.json?per_page=100', 'group_memberships');
  const tickets = (await all<Json>(t, '/api/v2/tickets.json?per_page=100', 'tickets')).sort((a, b) => (a['id'] as number) - (b['id'] as number));
  const position = new Map(tickets.map((tk, i) => [tk['id'] as number, i]));
  const participant = (p: Json) => ({
    ...p,
    user_id: person(p['user_id']),
    ...(p['support_group_id'] !== undefined ? { support_group_id: groupName.get(p['support_group_id'] as number) ?? null, support_agent_id: person(p['support_agent_id']) } : {}),
  });
  const out: Json[] = [];
  for (const tk of tickets) {
    const comments = await all<Json>(t, `/api/v2/tickets/${tk['id'] as number}/comments.json?per_page=100`, 'comments');
    const scs = await all<Json>(t, `/api/v2/tickets/${tk['id'] as number}/side_conversations.json?per_page=100`, 'side_conversations');
    const conversations: Json[] = [];
    for (const sc of scs) {
      const events = await all<Json>(t, `/api/v2/tickets/${tk['id'] as number}/side_conversations/${sc['id'] as string}/events.json?per_page=100`, 'events');
      const presentedEvents: Json[] = [];
      for (const e of events) {
        const message = e['message'] as Json | null;
        let presentedMessage: Json | null = null;
        if (message) {
          const attachments: Json[] = [];
          for (const a of message['attachments'] as Json[]) {
            const download = await t.request({ method: 'GET', url: pathOf(a['content_url'] as string) });
            expectStatus(download, 200);
            attachments.push({ file_name: a['file_name'], content_type: a['content_type'], size: a['size'], width: a['width'], height: a['height'], sha256: createHash('sha256').update(download.rawPayload).digest('hex') });
          }
          presentedMessage = {
            subject: message['subject'],
            body: message['body'],
            html_body: message['html_body'],
            preview_text: message['preview_text'],
            from: participant(message['from'] as Json),
            to: (message['to'] as Json[]).map(participant),
            external_ids: message['external_ids'],
            attachments,
          };
        }
        presentedEvents.push({ type: e['type'], via: e['via'], created_at: e['created_at'], actor: { ...(e['actor'] as Json), user_id: person((e['actor'] as Json)['user_id']) }, message: presentedMessage, updates: e['updates'] });
      }
      const ids = { ...(sc['external_ids'] as Record<string, string>) };
      if (ids['targetTicketId'] !== undefined) ids['targetTicketId'] = `ticket #${position.get(Number(ids['targetTicketId']))}`;
      conversations.push({
        subject: sc['subject'],
        state: sc['state'],
        preview_text: sc['preview_text'],
        created_at: sc['created_at'],
        updated_at: sc['updated_at'],
        message_added_at: sc['message_added_at'],
        state_updated_at: sc['state_updated_at'],
        external_ids: ids,
        participants: (sc['participants'] as Json[]).map(participant),
        events: presentedEvents,
      });
    }
    out.push({
      subject: tk['subject'],
      description: tk['description'],
      status: tk['status'],
      priority: tk['priority'],
      via: tk['via'],
      created_at: tk['created_at'],
      updated_at: tk['updated_at'],
      requester: person(tk['requester_id']),
      submitter: person(tk['submitter_id']),
      assignee: person(tk['assignee_id']),
      group: tk['group_id'] === null ? null : groupName.get(tk['group_id'] as number),
      comments: comments.map((c) => ({ author: person(c['author_id']), body: c['body'], html_body: c['html_body'], public: c['public'], created_at: c['created_at'] })),
      side_conversations: conversations,
    });
  }
  return {
    users: users.map((u) => ({ name: u['name'], email: u['email'], role: u['role'], active: u['active'], suspended: u['suspended'] })).sort((a, b) => String(a.email).localeCompare(String(b.email))),
    groups: groups.map((g) => g['name']).sort(),
    memberships: memberships.map((m) => `${person(m['user_id'])} in ${groupName.get(m['group_id'] as number)}`).sort(),
    tickets: out,
  };
}

/** The two snapshots are the same; on a difference, the first ticket that differs is named. */
export function assertSameAccount(actual: Json, expected: Json): void {
  assert.deepEqual(actual['users'], expected['users']);
  assert.deepEqual(actual['groups'], expected['groups']);
  assert.deepEqual(actual['memberships'], expected['memberships']);
  const a = actual['tickets'] as Json[];
  const e = expected['tickets'] as Json[];
  assert.equal(a.length, e.length, 'ticket count');
  for (let i = 0; i < e.length; i++) assert.deepEqual(a[i], e[i], `ticket #${i} (${String(e[i]!['subject'])})`);
}
