import type { Kysely } from 'kysely';
import type { AttachmentsService } from '../../attachments/service.js';
import type { Database, UserRole } from '../../db/types.js';
import { findGroup, findMembership, insertGroup, insertMembership } from '../../groups/repo.js';
import { Conflict, DomainError, Invalid } from '../../errors.js';
import type { Actor } from '../../side-conversations/service.js';
import { findUserByEmail, insertUser } from '../../users/repo.js';
import { checkpointsOf, type CheckpointKey } from '../repo.js';
import type { ImportedEventInput, ImportSideConversationBody, ImportTicketBody } from '../schemas.js';
import { MAX_IMPORTED_EVENTS } from '../schemas.js';
import { createSideConversationImports } from '../side-conversations.js';
import { createTicketImports } from '../tickets.js';
import { SourceError, type ZendeskSource } from './source.js';

/**
 * `sideline import-from`: reads a Zendesk API (Zendesk itself, or another Sideline) and writes
 * into this store through the import commands (src/imports/*), never over HTTP to itself.
 *
 * Order: users (matched by email), groups (by name) and their memberships, tickets with their
 * comments, then every ticket's side conversations with their events and attachments. Source ids
 * are mapped to local ones as it goes; a child ticket's `external_ids.targetTicketId` is rewritten
 * to the local ticket.
 *
 * Resumable: every ticket and side conversation is imported in one transaction together with its
 * checkpoint row (import_checkpoints), so a run killed at any point and started again skips what
 * was committed and redoes what was not; users and groups are found again by email and name.
 * Uploads of a conversation whose import did not commit stay unbound and are swept after a day.
 */

interface SourceUser {
  id: number;
  name: string;
  email: string | null;
  role: UserRole;
  active?: boolean;
  suspended?: boolean;
}
interface SourceGroup {
  id: number;
  name: string;
  description?: string | null;
  deleted?: boolean;
}
interface SourceMembership {
  user_id: number;
  group_id: number;
  default?: boolean;
}
interface SourceTicket {
  id: number;
  subject: string | null;
  description?: string | null;
  status: string;
  priority: string | null;
  requester_id: number | null;
  submitter_id: number | null;
  assignee_id: number | null;
  group_id: number | null;
  created_at: string;
  updated_at: string;
  via?: { channel?: string | number };
}
interface SourceComment {
  author_id: number | null;
  body?: string | null;
  html_body?: string | null;
  plain_body?: string | null;
  public?: boolean;
  created_at: string;
}
interface SourceParticipant {
  user_id?: number | null;
  name?: string | null;
  email?: string | null;
  slack_workspace_id?: string;
  slack_channel_id?: string;
  support_group_id?: number | string | null;
  support_agent_id?: number | string | null;
  msteams_channel_id?: string;
}
interface SourceSideConversation {
  id: string;
  ticket_id: number;
  subject: string;
  state: 'open' | 'closed';
  participants: SourceParticipant[];
  external_ids: Record<string, string>;
}
interface SourceAttachment {
  id: string;
  file_name: string;
  content_url: string;
}
interface SourceEvent {
  id: string;
  type: 'create' | 'reply' | 'update';
  via: string;
  created_at: string;
  actor: SourceParticipant | null;
  message: {
    subject: string | null;
    body: string;
    html_body: string;
    from: SourceParticipant;
    to: SourceParticipant[];
    attachments?: SourceAttachment[];
    external_ids?: Record<string, string>;
  } | null;
  updates: Record<string, unknown> | null;
}

export type Kind = 'users' | 'groups' | 'memberships' | 'tickets' | 'side_conversations' | 'events' | 'attachments';
export const KINDS: Kind[] = ['users', 'groups', 'memberships', 'tickets', 'side_conversations', 'events', 'attachments'];

export interface Summary {
  imported: Record<Kind, number>;
  /** Already here: matched by email / name, or checkpointed by an earlier run. */
  skipped: Record<Kind, number>;
  failed: Array<{ kind: Kind; id: string; reason: string }>;
  /** How tickets were read: the incremental cursor export, or paging /api/v2/tickets when the source has none. */
  ticketSource: 'incremental' | 'paged' | null;
  dryRun: boolean;
}

export interface Progress {
  phase(name: string, total: number | null): void;
  tick(kind: Kind, outcome: 'imported' | 'skipped' | 'failed', count?: number): void;
  /** The last phase went through one more ticket's side conversations. */
  advance?(): void;
  done(summary: Summary): void;
}

export const SILENT: Progress = { phase: () => undefined, tick: () => undefined, done: () => undefined };

export interface MigrateOptions {
  db: Kysely<Database>;
  attachments: AttachmentsService;
  source: ZendeskSource;
  /** Who the import is done as: an admin of the target account (the fallback author of unmapped comments). */
  actor: Actor & { userId: number };
  dryRun?: boolean;
  progress?: Progress;
  signal?: AbortSignal;
}

const emptyCounts = (): Record<Kind, number> => Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;

function reasonOf(error: unknown): string {
  if (error instanceof Invalid) return `invalid: ${error.message}`;
  if (error instanceof DomainError) return `${error.constructor.name}: ${error.message}`;
  if (error instanceof SourceError) return `source answered ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

export async function migrate(options: MigrateOptions): Promise<Summary> {
  const { db, source, actor } = options;
  const dryRun = options.dryRun ?? false;
  const progress = options.progress ?? SILENT;
  const accountId = actor.accountId;
  const sourceKey = source.base;
  const summary: Summary = { imported: emptyCounts(), skipped: emptyCounts(), failed: [], ticketSource: null, dryRun };
  const tick = (kind: Kind, outcome: 'imported' | 'skipped', count = 1) => {
    summary[outcome][kind] += count;
    progress.tick(kind, outcome, count);
  };
  const fail = (kind: Kind, id: string | number, error: unknown) => {
    summary.failed.push({ kind, id: String(id), reason: reasonOf(error) });
    progress.tick(kind, 'failed');
  };
  const checkAbort = () => {
    if (options.signal?.aborted) throw options.signal.reason;
  };
  const key = (kind: string, sourceId: string | number): CheckpointKey => ({ source: sourceKey, kind, sourceId: String(sourceId) });
  const ticketImports = createTicketImports({ db });
  const scImports = createSideConversationImports({ db });

  // --- users: matched by email ---------------------------------------------------------------
  const users = new Map<number, number>();
  const sourceUsers = await source.all<SourceUser>('/api/v2/users.json?per_page=100', 'users');
  progress.phase('users', sourceUsers.length);
  for (const u of sourceUsers) {
    checkAbort();
    if (!u.email) {
      fail('users', u.id, new Error('no email to match it by'));
      continue;
    }
    const existing = await findUserByEmail(db, accountId, u.email);
    if (existing) {
      users.set(u.id, existing.id);
      tick('users', 'skipped');
      continue;
    }
    if (dryRun) {
      tick('users', 'imported');
      continue;
    }
    try {
      const created = await insertUser(db, {
        account_id: accountId,
        name: u.name?.trim() || u.email,
        email: u.email,
        role: u.role === 'admin' || u.role === 'agent' ? u.role : 'end-user',
        password_hash: null,
        active: u.active ?? true,
        suspended: u.suspended ?? false,
      });
      users.set(u.id, created.id);
      tick('users', 'imported');
    } catch (error) {
      fail('users', u.id, error);
    }
  }

  // --- groups (by name) and memberships -------------------------------------------------------
  const groups = new Map<number, number>();
  const sourceGroups = (await source.all<SourceGroup>('/api/v2/groups.json?per_page=100', 'groups')).filter((g) => !g.deleted);
  progress.phase('groups', sourceGroups.length);
  const localGroups = await db.selectFrom('groups').select(['id', 'name']).where('account_id', '=', accountId).execute();
  for (const g of sourceGroups) {
    checkAbort();
    const existing = localGroups.find((l) => l.name.toLowerCase() === g.name.toLowerCase());
    if (existing) {
      groups.set(g.id, existing.id);
      tick('groups', 'skipped');
    } else if (dryRun) tick('groups', 'imported');
    else {
      try {
        const created = await insertGroup(db, accountId, g.name, g.description ?? null);
        localGroups.push({ id: created.id, name: created.name });
        groups.set(g.id, created.id);
        tick('groups', 'imported');
      } catch (error) {
        fail('groups', g.id, error);
      }
    }
  }
  const memberships = await source.all<SourceMembership>('/api/v2/group_memberships.json?per_page=100', 'group_memberships');
  for (const m of memberships) {
    const userId = users.get(m.user_id);
    const groupId = groups.get(m.group_id);
    if (userId === undefined || groupId === undefined) {
      if (!dryRun) fail('memberships', `${m.user_id}/${m.group_id}`, new Error('its user or group was not brought over'));
      else tick('memberships', 'imported');
      continue;
    }
    if (await findMembership(db, accountId, userId, groupId)) tick('memberships', 'skipped');
    else if (dryRun) tick('memberships', 'imported');
    else if (await findGroup(db, accountId, groupId)) {
      await insertMembership(db, accountId, userId, groupId, m.default ?? false);
      tick('memberships', 'imported');
    }
  }

  // --- tickets with their comments ------------------------------------------------------------
  const tickets = new Map<number, number>();
  for (const [from, to] of await checkpointsOf(db, accountId, sourceKey, 'ticket')) tickets.set(Number(from), Number(to));
  const sourceTickets = await readTickets(source, summary);
  sourceTickets.sort((a, b) => a.id - b.id);
  progress.phase('tickets', sourceTickets.length);
  const mapUser = (id: number | null | undefined) => (id === null || id === undefined ? undefined : users.get(id));
  for (const t of sourceTickets) {
    checkAbort();
    if (tickets.has(t.id)) {
      tick('tickets', 'skipped');
      continue;
    }
    if (t.status === 'deleted') {
      fail('tickets', t.id, new Error('deleted at the source'));
      continue;
    }
    try {
      const comments = await source.all<SourceComment>(`/api/v2/tickets/${t.id}/comments.json?per_page=100`, 'comments');
      if (dryRun) {
        tick('tickets', 'imported');
        continue;
      }
      const body = ticketBody(t, comments, mapUser, (id) => (id === null ? undefined : groups.get(id)));
      const ticket = await ticketImports.importTicket({ accountId, userId: actor.userId }, body, { checkpoint: key('ticket', t.id) });
      tickets.set(t.id, ticket.id);
      tick('tickets', 'imported');
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      fail('tickets', t.id, error);
    }
  }

  // --- side conversations, ticket by ticket ---------------------------------------------------
  const done = await checkpointsOf(db, accountId, sourceKey, 'side_conversation');
  progress.phase('side conversations', sourceTickets.length);
  for (const t of sourceTickets) {
    checkAbort();
    progress.advance?.();
    const localTicket = tickets.get(t.id);
    if (localTicket === undefined && !dryRun) continue;
    let conversations: SourceSideConversation[];
    try {
      conversations = await source.all<SourceSideConversation>(`/api/v2/tickets/${t.id}/side_conversations.json?per_page=100`, 'side_conversations');
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      fail('side_conversations', `ticket ${t.id}`, error);
      continue;
    }
    for (const sc of conversations) {
      checkAbort();
      if (done.has(sc.id)) {
        tick('side_conversations', 'skipped');
        continue;
      }
      try {
        const events = await source.all<SourceEvent>(`/api/v2/tickets/${t.id}/side_conversations/${sc.id}/events.json?per_page=100`, 'events');
        const attachmentCount = events.reduce((n, e) => n + (e.message?.attachments?.length ?? 0), 0);
        if (dryRun) {
          tick('side_conversations', 'imported');
          tick('events', 'imported', events.length);
          tick('attachments', 'imported', attachmentCount);
          continue;
        }
        if (events.length === 0) throw new Error('it has no events');
        const mapped = await mapEvents(events, { source, attachments: options.attachments, accountId, uploaderId: actor.userId, users, groups });
        const externalIds = { ...sc.external_ids };
        if (externalIds['targetTicketId'] !== undefined) {
          const target = tickets.get(Number(externalIds['targetTicketId']));
          if (target === undefined) throw new Error(`its child ticket ${externalIds['targetTicketId']} was not brought over`);
          externalIds['targetTicketId'] = String(target);
        }
        const body: ImportSideConversationBody = {
          side_conversation: {
            subject: sc.subject,
            state: sc.state,
            external_ids: externalIds,
            participants: sc.participants.map((p) => mapParticipant(p, users, groups)),
          },
          events: mapped.slice(0, MAX_IMPORTED_EVENTS),
        };
        const written = await scImports.importSideConversation(actor, localTicket!, body, { checkpoints: [key('side_conversation', sc.id)] });
        // A longer history goes in more requests after the first; each chunk is its own transaction.
        for (let from = MAX_IMPORTED_EVENTS; from < mapped.length; from += MAX_IMPORTED_EVENTS) {
          await scImports.importEvents(actor, localTicket!, written.sideConversation.id, { events: mapped.slice(from, from + MAX_IMPORTED_EVENTS) });
        }
        tick('side_conversations', 'imported');
        tick('events', 'imported', mapped.length);
        tick('attachments', 'imported', attachmentCount);
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        if (error instanceof Conflict && !dryRun) {
          // Imported before under these external_ids (by the API, or a run whose checkpoint was lost): keep that one.
          tick('side_conversations', 'skipped');
          continue;
        }
        fail('side_conversations', sc.id, error);
      }
    }
  }
  progress.done(summary);
  return summary;
}

/**
 * Zendesk's incremental ticket export (cursor based) when the source has it; else (another
 * Sideline, which does not serve it) paging /api/v2/tickets, which such a source bounds at 10,000.
 */
async function readTickets(source: ZendeskSource, summary: Summary): Promise<SourceTicket[]> {
  const first = await source.json<{ tickets: SourceTicket[]; after_url?: string | null; end_of_stream?: boolean }>('/api/v2/incremental/tickets/cursor.json?start_time=0&per_page=1000');
  if (first) {
    summary.ticketSource = 'incremental';
    const byId = new Map<number, SourceTicket>();
    let page: typeof first | null = first;
    for (;;) {
      for (const t of page.tickets ?? []) byId.set(t.id, t);
      if (page.end_of_stream !== false || !page.after_url) break;
      page = await source.json<typeof first>(page.after_url);
      if (!page) break;
    }
    return [...byId.values()];
  }
  summary.ticketSource = 'paged';
  return source.all<SourceTicket>('/api/v2/tickets.json?per_page=100', 'tickets');
}

function ticketBody(
  t: SourceTicket,
  comments: SourceComment[],
  mapUser: (id: number | null | undefined) => number | undefined,
  mapGroup: (id: number | null) => number | undefined,
): ImportTicketBody['ticket'] {
  const written = comments
    .map((c) => ({ author_id: mapUser(c.author_id), body: (c.body ?? c.plain_body ?? '').trim(), html_body: c.html_body ?? undefined, public: c.public ?? true, created_at: c.created_at }))
    .filter((c) => c.body || c.html_body?.trim());
  if (written.length === 0) written.push({ author_id: mapUser(t.requester_id), body: t.description?.trim() || t.subject?.trim() || '(no text)', html_body: undefined, public: true, created_at: t.created_at });
  const statuses = ['new', 'open', 'pending', 'hold', 'solved', 'closed'];
  const priorities = ['low', 'normal', 'high', 'urgent'];
  const requester = mapUser(t.requester_id);
  const submitter = mapUser(t.submitter_id);
  const assignee = mapUser(t.assignee_id);
  const group = mapGroup(t.group_id);
  return {
    ...(t.subject ? { subject: t.subject.slice(0, 255) } : {}),
    ...(t.description ? { description: t.description } : {}),
    ...(requester !== undefined ? { requester_id: requester } : {}),
    ...(submitter !== undefined ? { submitter_id: submitter } : {}),
    assignee_id: assignee ?? null,
    group_id: group ?? null,
    ...(statuses.includes(t.status) ? { status: t.status as 'open' } : {}),
    priority: t.priority && priorities.includes(t.priority) ? (t.priority as 'low') : null,
    created_at: t.created_at,
    updated_at: t.updated_at,
    ...(t.via?.channel !== undefined ? { via: { channel: String(t.via.channel).slice(0, 64) } } : {}),
    comments: written.map((c) => ({
      ...(c.author_id !== undefined ? { author_id: c.author_id } : {}),
      ...(c.body ? { body: c.body } : {}),
      ...(c.html_body ? { html_body: c.html_body } : {}),
      public: c.public,
      created_at: c.created_at,
    })),
  };
}

function mapParticipant(p: SourceParticipant, users: Map<number, number>, groups: Map<number, number>): SourceParticipant {
  const out: SourceParticipant = { name: p.name ?? null, email: p.email ?? null };
  const userId = p.user_id === null || p.user_id === undefined ? undefined : users.get(p.user_id);
  if (userId !== undefined) out.user_id = userId;
  if (p.slack_workspace_id) out.slack_workspace_id = p.slack_workspace_id;
  if (p.slack_channel_id) out.slack_channel_id = p.slack_channel_id;
  if (p.msteams_channel_id) out.msteams_channel_id = p.msteams_channel_id;
  if (p.support_group_id !== undefined && p.support_group_id !== null) {
    const group = groups.get(Number(p.support_group_id));
    if (group !== undefined) out.support_group_id = group;
    const agent = p.support_agent_id === undefined || p.support_agent_id === null ? undefined : users.get(Number(p.support_agent_id));
    if (agent !== undefined) out.support_agent_id = agent;
  }
  return out;
}

async function mapEvents(
  events: SourceEvent[],
  ctx: { source: ZendeskSource; attachments: AttachmentsService; accountId: number; uploaderId: number; users: Map<number, number>; groups: Map<number, number> },
): Promise<ImportedEventInput[]> {
  const out: ImportedEventInput[] = [];
  for (const e of events) {
    const mapped: ImportedEventInput = {
      created_at: e.created_at,
      type: e.type,
      via: e.via,
      actor: e.actor ? pickActor(mapParticipant(e.actor, ctx.users, ctx.groups)) : null,
    };
    if (e.message) {
      const attachmentIds: string[] = [];
      for (const a of e.message.attachments ?? []) {
        const bytes = await ctx.source.bytes(a.content_url);
        if (!bytes) throw new Error(`attachment ${a.id} (${a.file_name}) is gone from the source`);
        const uploaded = await ctx.attachments.upload({ accountId: ctx.accountId, uploaderId: ctx.uploaderId, fileName: a.file_name, bytes });
        attachmentIds.push(uploaded.id);
      }
      mapped.message = {
        ...(e.message.subject ? { subject: e.message.subject } : {}),
        body: e.message.body,
        html_body: e.message.html_body,
        from: mapParticipant(e.message.from, ctx.users, ctx.groups),
        to: e.message.to.map((p) => mapParticipant(p, ctx.users, ctx.groups)),
        external_ids: e.message.external_ids ?? {},
        attachment_ids: attachmentIds,
      };
    }
    if (e.updates && Object.keys(e.updates).length > 0) {
      const updates: { state?: string; subject?: string } = {};
      if (typeof e.updates['state'] === 'string') updates.state = e.updates['state'];
      if (typeof e.updates['subject'] === 'string') updates.subject = e.updates['subject'];
      if (Object.keys(updates).length > 0) mapped.updates = updates;
    }
    out.push(mapped);
  }
  return out;
}

function pickActor(p: SourceParticipant) {
  return { user_id: p.user_id ?? null, name: p.name ?? null, email: p.email ?? null };
}
