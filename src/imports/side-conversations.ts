import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { bindAttachmentsToMessage } from '../attachments/service.js';
import { newReplyToken } from '../channels/email/threading.js';
import type { Executor } from '../db/executor.js';
import type {
  Attachment,
  Database,
  EventMessageRecord,
  EventType,
  EventVia,
  ParticipantRecord,
  SideConversation,
  SideConversationChannel,
  SideConversationEvent,
  SideConversationState,
} from '../db/types.js';
import { findGroup } from '../groups/repo.js';
import { hasControlCharacters, isEmailAddress } from '../http/email.js';
import { conflict, DomainError, notFound, ValidationErrors } from '../errors.js';
import { findSideConversation, insertEvent, insertParticipants, insertSideConversation, participantsOf, type PresentedParticipant } from '../side-conversations/repo.js';
import { checkExternalIds, MAX_SUBJECT_LENGTH, messageBodies } from '../side-conversations/rules.js';
import type { Actor, WriteResult } from '../side-conversations/service.js';
import type { ParticipantInput } from '../side-conversations/participants.js';
import { addParticipants } from '../side-conversations/thread.js';
import { findTicket, findTicketForUpdate } from '../tickets/repo.js';
import { findUser } from '../users/repo.js';
import {
  existingMessageExternalIds,
  findImportedSideConversation,
  lastEventOf,
  linkChildTicket,
  markImportTransaction,
  recordCheckpoint,
  updateImportedTimes,
  type CheckpointKey,
} from './repo.js';
import type { ImportedEventInput, ImportEventsBody, ImportSideConversationBody } from './schemas.js';

/**
 * Imports of side conversation history (Zendesk's Import Side Conversation and Import Side
 * Conversation Events). One transaction per request; the rows keep the times of their source;
 * nothing is delivered: no outbox rows, no delivery rows, no webhook rows (the transaction is
 * marked, see migration 0010), no Message-ID recorded. The event feed still gets its rows by
 * trigger, so the conversation appears in the live stream and its events in every events endpoint.
 */

const VIAS: readonly EventVia[] = ['api', 'zendesk', 'email', 'slack', 'msteams', 'child_ticket'];

/** How far ahead of this server's clock an event may be dated (a source's clock may run a little fast). */
export const FUTURE_SKEW_MS = 60_000;

interface PreparedEvent {
  type: EventType;
  via: EventVia;
  createdAt: Date;
  actor: { user_id: number | null; name: string | null; email: string | null };
  message: EventMessageRecord | null;
  updates: { state?: SideConversationState; subject?: string } | null;
  field: string;
}

/** Canonical JSON of an external_ids object (sorted keys), for comparing and hashing. */
export function canonicalIds(ids: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(ids).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

function importKeyOf(ids: Record<string, string>): string | null {
  return Object.keys(ids).length === 0 ? null : createHash('sha256').update(canonicalIds(ids)).digest('hex');
}


function asId(value: unknown): number | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value.trim()) && Number(value) > 0) return Number(value);
  return null;
}

const keyOf = (p: ParticipantRecord) =>
  p.slack_channel_id
    ? `s:${p.slack_workspace_id}/${p.slack_channel_id}`
    : p.support_group_id
      ? `g:${p.support_group_id}/${p.support_agent_id ?? ''}`
      : p.msteams_channel_id
        ? `t:${p.msteams_channel_id}`
        : p.email
          ? `e:${p.email.toLowerCase()}`
          : `u:${p.user_id}`;

/** Looks up users and groups once per request. */
class Lookups {
  readonly #users = new Map<number, Promise<{ name: string; email: string | null } | null>>();
  readonly #groups = new Map<number, Promise<{ name: string } | null>>();
  constructor(
    private readonly db: Executor,
    private readonly accountId: number,
  ) {}
  user(id: number) {
    if (!this.#users.has(id)) this.#users.set(id, findUser(this.db, this.accountId, id).then((u) => (u ? { name: u.name, email: u.email } : null)));
    return this.#users.get(id)!;
  }
  group(id: number) {
    if (!this.#groups.has(id)) this.#groups.set(id, findGroup(this.db, this.accountId, id).then((g) => (g ? { name: g.name } : null)));
    return this.#groups.get(id)!;
  }
}

/** A participant as given, checked: its user, group and agent must be of this account. */
async function participantRecord(input: ParticipantInput, field: string, lookups: Lookups, errors: ValidationErrors): Promise<ParticipantRecord | null> {
  const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : null);
  const record: ParticipantRecord = { user_id: null, name: str(input.name), email: str(input.email) };
  if (input.user_id !== undefined && input.user_id !== null) {
    const user = await lookups.user(input.user_id);
    if (!user) errors.add(`${field}.user_id`, `User: ${input.user_id} not found`, 'NotFound');
    else {
      record.user_id = input.user_id;
      record.name ??= user.name;
      record.email ??= user.email;
    }
  }
  if (record.email !== null && (!isEmailAddress(record.email) || hasControlCharacters(record.email))) {
    errors.add(`${field}.email`, `Email: ${record.email} is not properly formatted`);
  }
  if (record.name !== null && (record.name.length > 255 || hasControlCharacters(record.name))) errors.add(`${field}.name`, 'Name: is invalid');
  const slackWorkspace = str(input.slack_workspace_id);
  const slackChannel = str(input.slack_channel_id);
  if (slackWorkspace || slackChannel) {
    if (!slackWorkspace || !slackChannel || !/^[A-Za-z0-9]{1,32}$/.test(slackWorkspace) || !/^[A-Za-z0-9]{1,32}$/.test(slackChannel)) {
      errors.add(field, 'Participant: a Slack participant needs slack_workspace_id and slack_channel_id');
    } else {
      record.slack_workspace_id = slackWorkspace;
      record.slack_channel_id = slackChannel;
    }
  }
  const teams = str(input.msteams_channel_id);
  if (teams) {
    if (teams.length > 255 || hasControlCharacters(teams)) errors.add(`${field}.msteams_channel_id`, 'Microsoft Teams channel: is invalid');
    else record.msteams_channel_id = teams;
  }
  if (input.support_group_id !== undefined && input.support_group_id !== null) {
    const groupId = asId(input.support_group_id);
    const group = groupId === null ? null : await lookups.group(groupId);
    if (!group) errors.add(`${field}.support_group_id`, `Group: ${String(input.support_group_id)} not found`, 'NotFound');
    else {
      record.support_group_id = groupId!;
      record.support_agent_id = null;
      record.name ??= group.name;
    }
    if (input.support_agent_id !== undefined && input.support_agent_id !== null) {
      const agentId = asId(input.support_agent_id);
      const agent = agentId === null ? null : await lookups.user(agentId);
      if (!agent) errors.add(`${field}.support_agent_id`, `Agent: ${String(input.support_agent_id)} not found`, 'NotFound');
      else record.support_agent_id = agentId;
    }
  }
  const typed = record.slack_channel_id || record.support_group_id || record.msteams_channel_id;
  if (!typed && record.user_id === null && record.email === null && record.name === null) {
    errors.add(field, 'Participant: needs user_id, email or name (email), slack ids, support_group_id or msteams_channel_id', 'InvalidParticipant');
    return null;
  }
  return record;
}

function kindOf(p: ParticipantRecord): SideConversationChannel | null {
  if (p.slack_channel_id) return 'slack';
  if (p.support_group_id) return 'child_ticket';
  if (p.msteams_channel_id) return 'msteams';
  return null;
}

function parseTime(value: string, field: string, errors: ValidationErrors): Date | null {
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    errors.add(field, `Created at: ${value} is not an ISO 8601 time`);
    return null;
  }
  if (ms > Date.now() + FUTURE_SKEW_MS) {
    errors.add(field, 'Created at: cannot be in the future');
    return null;
  }
  return new Date(ms);
}

/** Re-files the messages of a shared checker (which names `message.body`) under the event's own path. */
function under(prefix: string, inner: ValidationErrors, errors: ValidationErrors): void {
  for (const [field, list] of Object.entries(inner.details)) for (const d of list) errors.add(`${prefix}.${field}`, d.description, d.error);
}

async function prepareEvents(
  events: ImportedEventInput[],
  mode: { first: 'create' | 'continue'; notBefore: Date | null },
  lookups: Lookups,
  errors: ValidationErrors,
): Promise<PreparedEvent[]> {
  const prepared: PreparedEvent[] = [];
  let previous = mode.notBefore;
  for (const [index, input] of events.entries()) {
    const field = `events[${index}]`;
    const createdAt = parseTime(input.created_at, `${field}.created_at`, errors);
    if (createdAt && previous && createdAt < previous) {
      errors.add(`${field}.created_at`, index === 0 ? 'Created at: is before the last event of the side conversation' : 'Created at: events must be in time order');
    }
    if (createdAt) previous = createdAt;

    const message = input.message ?? null;
    const type: EventType | null = input.type ?? (index === 0 && mode.first === 'create' ? 'create' : message ? 'reply' : input.updates ? 'update' : null);
    if (type === null) errors.add(`${field}.type`, 'Type: an event is a create, a reply (with a message) or an update (with updates)');
    else if (index === 0 && mode.first === 'create' && type !== 'create') errors.add(`${field}.type`, 'Type: the first event of an imported side conversation is its create');
    else if (type === 'create' && !(index === 0 && mode.first === 'create')) errors.add(`${field}.type`, 'Type: only the first event of a side conversation is a create');

    const via = (input.via ?? 'api') as EventVia;
    if (!VIAS.includes(via)) errors.add(`${field}.via`, `Via: must be one of ${VIAS.join(', ')}`);

    const actorInput = input.actor ?? message?.from ?? null;
    let actor: PreparedEvent['actor'] = { user_id: null, name: null, email: null };
    if (actorInput) {
      const record = await participantRecord({ user_id: actorInput.user_id ?? null, name: actorInput.name ?? null, email: actorInput.email ?? null }, `${field}.actor`, lookups, errors);
      if (record) actor = { user_id: record.user_id, name: record.name, email: record.email };
    }

    let record: EventMessageRecord | null = null;
    let updates: PreparedEvent['updates'] = null;
    if (type === 'create' || type === 'reply') {
      if (!message) errors.add(`${field}.message`, 'Message: a create or reply needs a message');
      else {
        const inner = new ValidationErrors();
        const bodies = messageBodies(message, inner);
        under(field, inner, errors);
        let subject: string | null = null;
        if (type === 'create' && typeof message.subject === 'string' && message.subject.trim()) {
          subject = message.subject.trim();
          if (subject.length > MAX_SUBJECT_LENGTH || hasControlCharacters(subject)) errors.add(`${field}.message.subject`, 'Subject: is too long or not a single line');
        }
        const from = message.from ? await participantRecord(message.from as ParticipantInput, `${field}.message.from`, lookups, errors) : { ...actor };
        const to: ParticipantRecord[] = [];
        for (const [i, p] of (message.to ?? []).entries()) {
          const r = await participantRecord(p as ParticipantInput, `${field}.message.to[${i}]`, lookups, errors);
          if (r) to.push(r);
        }
        const attachmentIds = [...(message.attachment_ids ?? []), ...(message.uploads ?? [])];
        record = {
          subject,
          body: bodies.body,
          html_body: bodies.htmlBody,
          preview_text: bodies.preview,
          from: from ?? actor,
          to,
          external_ids: checkExternalIds(message.external_ids, `${field}.message.external_ids`, errors),
          attachment_ids: attachmentIds.map((id) => id.toLowerCase()),
        };
      }
    } else if (type === 'update') {
      const given = input.updates ?? {};
      updates = {};
      if (given.state !== undefined) {
        if (given.state !== 'open' && given.state !== 'closed') errors.add(`${field}.updates.state`, 'State: must be "open" or "closed"');
        else updates.state = given.state;
      }
      if (given.subject !== undefined) {
        const subject = given.subject.trim();
        if (!subject || subject.length > MAX_SUBJECT_LENGTH || hasControlCharacters(subject)) errors.add(`${field}.updates.subject`, 'Subject: is blank, too long or not a single line');
        else updates.subject = subject;
      }
      if (given.state === undefined && given.subject === undefined) errors.add(`${field}.updates`, 'Updates: an update event changes state or subject');
    }
    prepared.push({ type: type ?? 'reply', via, createdAt: createdAt ?? new Date(0), actor, message: record, updates, field });
  }
  return prepared;
}

/** Duplicate message external_ids inside one request are as refused as ones already stored. */
function messageIdKeys(prepared: PreparedEvent[]): string[] {
  return prepared.map((e) => (e.message && Object.keys(e.message.external_ids).length > 0 ? canonicalIds(e.message.external_ids) : null)).filter((k): k is string => k !== null);
}

function refuseDuplicateMessages(keys: string[], existing: Set<string>): void {
  const seen = new Set<string>();
  for (const key of keys) {
    if (existing.has(key) || seen.has(key)) throw conflict(`An event with the message external_ids ${key} was imported already`);
    seen.add(key);
  }
}

async function writeEvents(
  trx: Executor,
  accountId: number,
  sc: SideConversation,
  prepared: PreparedEvent[],
): Promise<Array<{ event: SideConversationEvent; attachments: Attachment[] }>> {
  const written: Array<{ event: SideConversationEvent; attachments: Attachment[] }> = [];
  for (const e of prepared) {
    const id = randomUUID();
    const event = await insertEvent(trx, {
      id,
      account_id: accountId,
      side_conversation_id: sc.id,
      ticket_id: sc.ticket_id,
      type: e.type,
      via: e.via,
      actor: e.actor,
      message: e.message,
      updates: e.updates,
      created_at: e.createdAt,
    });
    const attachments = e.message
      ? await bindAttachmentsToMessage(trx, accountId, e.message.attachment_ids, { ticketId: sc.ticket_id, sideConversationId: sc.id, eventId: id }, `${e.field}.message.attachment_ids`)
      : [];
    written.push({ event, attachments });
  }
  return written;
}

/**
 * What the imported events leave the conversation at: its state, subject, preview and times. As on
 * the live road, a reply to a closed conversation reopens it (at the reply's time).
 */
function outcome(prepared: PreparedEvent[], initialState: SideConversationState) {
  let state = initialState;
  let changedState = false;
  let stateAt: Date | undefined;
  let subject: string | undefined;
  let preview: string | undefined;
  let messageAt: Date | undefined;
  for (const e of prepared) {
    if (e.updates?.state !== undefined) {
      state = e.updates.state;
      stateAt = e.createdAt;
      changedState = true;
    }
    if (e.updates?.subject !== undefined) subject = e.updates.subject;
    if (e.message) {
      if (e.type === 'reply' && state === 'closed') {
        state = 'open';
        stateAt = e.createdAt;
        changedState = true;
      }
      preview = e.message.preview_text;
      messageAt = e.createdAt;
    }
  }
  return { state: changedState ? state : undefined, stateAt, subject, preview, messageAt, lastAt: prepared[prepared.length - 1]!.createdAt };
}

function isUniqueViolation(error: unknown): boolean {
  return !!error && typeof error === 'object' && (error as { code?: string }).code === '23505';
}

export interface ImportOptions {
  /**
   * `import-from`: checkpoints to record in the import's own transaction (target: the conversation's
   * id unless given), so a run killed before the commit redoes the import and one killed after skips it.
   */
  checkpoints?: Array<CheckpointKey & { targetId?: string }>;
}

async function recordCheckpoints(trx: Executor, accountId: number, options: ImportOptions, scId: string): Promise<void> {
  for (const c of options.checkpoints ?? []) await recordCheckpoint(trx, accountId, c, c.targetId ?? scId);
}

export function createSideConversationImports({ db }: { db: Kysely<Database> }) {
  return {
    /** Zendesk's Import Side Conversation: the conversation, its participants and its whole history. */
    async importSideConversation(actor: Actor, ticketId: number, input: ImportSideConversationBody, options: ImportOptions = {}): Promise<WriteResult> {
      try {
        return await db.transaction().execute(async (trx) => {
          await markImportTransaction(trx);
          const ticket = await findTicketForUpdate(trx, actor.accountId, ticketId);
          if (!ticket) throw notFound();
          const errors = new ValidationErrors();
          const lookups = new Lookups(trx, actor.accountId);
          const fields = input.side_conversation;
          const externalIds = checkExternalIds(fields.external_ids, 'side_conversation.external_ids', errors);
          const prepared = await prepareEvents(input.events, { first: 'create', notBefore: null }, lookups, errors);

          const participants: ParticipantRecord[] = [];
          const seen = new Set<string>();
          const addOnce = (p: ParticipantRecord) => {
            const key = keyOf(p);
            if (!seen.has(key)) {
              seen.add(key);
              participants.push(p);
            }
          };
          if (fields.participants && fields.participants.length > 0) {
            for (const [i, p] of fields.participants.entries()) {
              const r = await participantRecord(p as ParticipantInput, `side_conversation.participants[${i}]`, lookups, errors);
              if (r) addOnce(r);
            }
          } else {
            for (const e of prepared) if (e.message) [e.message.from, ...e.message.to].forEach(addOnce);
          }
          const kinds = new Set([...participants, ...prepared.flatMap((e) => e.message?.to ?? [])].map(kindOf).filter((k) => k !== null));
          if (kinds.size > 1) errors.add('side_conversation.participants', 'Participants: one side conversation is of one type (email, Slack, child ticket or Microsoft Teams)', 'MixedParticipantTypes');
          const channel: SideConversationChannel = [...kinds][0] ?? 'email';

          let childTicketId: number | null = null;
          if (externalIds['targetTicketId'] !== undefined) {
            childTicketId = asId(externalIds['targetTicketId']);
            if (childTicketId === null || childTicketId === ticket.id || !(await findTicket(trx, actor.accountId, childTicketId))) {
              errors.add('side_conversation.external_ids.targetTicketId', `Target ticket: ${externalIds['targetTicketId']} not found`, 'NotFound');
            }
          }
          const create = prepared[0]!;
          const subject = (typeof fields.subject === 'string' && fields.subject.trim()) || create.message?.subject || ticket.subject;
          if (subject.length > MAX_SUBJECT_LENGTH || hasControlCharacters(subject)) errors.add('side_conversation.subject', 'Subject: is too long or not a single line');
          errors.throwIfAny();

          const importKey = importKeyOf(externalIds);
          if (importKey) {
            const earlier = await findImportedSideConversation(trx, actor.accountId, importKey);
            if (earlier) throw conflict(`A side conversation with these external_ids was imported already: ${earlier.id} on ticket ${earlier.ticket_id}`);
          }
          const result = outcome(prepared, 'open');
          const sc = await insertSideConversation(trx, {
            id: randomUUID(),
            account_id: actor.accountId,
            ticket_id: ticket.id,
            channel,
            subject: result.subject ?? subject,
            state: fields.state ?? result.state ?? 'open',
            preview_text: result.preview ?? '',
            external_ids: externalIds,
            reply_token: channel === 'email' ? newReplyToken() : null,
            import_key: importKey,
            created_at: create.createdAt,
            updated_at: result.lastAt,
            message_added_at: result.messageAt ?? create.createdAt,
            state_updated_at: result.stateAt ?? (fields.state && fields.state !== (result.state ?? 'open') ? result.lastAt : create.createdAt),
          });
          const presented = await insertParticipants(trx, actor.accountId, sc.id, participants);
          const written = await writeEvents(trx, actor.accountId, sc, prepared);
          if (channel === 'child_ticket' && childTicketId !== null) await linkChildTicket(trx, actor.accountId, childTicketId, sc.id);
          await recordCheckpoints(trx, actor.accountId, options, sc.id);
          const first = written[0]!;
          return { sideConversation: sc, participants: presented, event: first.event, details: { attachments: first.attachments, deliveries: [] }, updates: {} };
        });
      } catch (error) {
        if (isUniqueViolation(error) && !(error instanceof DomainError)) throw conflict('A side conversation with these external_ids was imported already');
        throw error;
      }
    },

    /** Zendesk's Import Side Conversation Events: more history after what the conversation has. */
    async importEvents(actor: Actor, ticketId: number, id: string, input: ImportEventsBody, options: ImportOptions = {}): Promise<WriteResult> {
      return db.transaction().execute(async (trx) => {
        await markImportTransaction(trx);
        const sc = await findSideConversation(trx, actor.accountId, ticketId, id, true);
        if (!sc) throw notFound();
        const errors = new ValidationErrors();
        const lookups = new Lookups(trx, actor.accountId);
        const last = await lastEventOf(trx, actor.accountId, sc.id);
        const prepared = await prepareEvents(input.events, { first: 'continue', notBefore: last?.created_at ?? sc.created_at }, lookups, errors);
        for (const e of prepared) {
          const kinds = new Set((e.message?.to ?? []).map(kindOf).map((k) => k ?? 'email'));
          if (kinds.size > 0 && (kinds.size > 1 || !kinds.has(sc.channel))) {
            errors.add(`${e.field}.message.to`, `To: a message stays in the side conversation's own type (${sc.channel})`, 'MixedParticipantTypes');
          }
        }
        errors.throwIfAny();
        const keys = messageIdKeys(prepared);
        refuseDuplicateMessages(keys, await existingMessageExternalIds(trx, actor.accountId, sc.id, keys));

        const result = outcome(prepared, sc.state);
        const updates: Record<string, unknown> = {};
        if (result.state !== undefined && result.state !== sc.state) updates['state'] = result.state;
        if (result.subject !== undefined && result.subject !== sc.subject) updates['subject'] = result.subject;
        const updated = await updateImportedTimes(trx, actor.accountId, sc.id, {
          updated_at: result.lastAt,
          ...(result.state !== undefined ? { state: result.state, state_updated_at: result.stateAt! } : {}),
          ...(result.subject !== undefined ? { subject: result.subject } : {}),
          ...(result.preview !== undefined ? { preview_text: result.preview, message_added_at: result.messageAt! } : {}),
        });
        let participants: PresentedParticipant[] = (await participantsOf(trx, actor.accountId, [sc.id])).get(sc.id) ?? [];
        if (sc.channel === 'email') {
          const candidates = prepared.flatMap((e) => (e.message ? [e.message.from, ...e.message.to] : [])).filter((p) => kindOf(p) === null);
          participants = await addParticipants(trx, actor.accountId, updated, candidates, participants);
        }
        const written = await writeEvents(trx, actor.accountId, updated, prepared);
        await recordCheckpoints(trx, actor.accountId, options, sc.id);
        const newest = written[written.length - 1]!;
        return { sideConversation: updated, participants, event: newest.event, details: { attachments: newest.attachments, deliveries: [] }, updates };
      });
    },
  };
}

export type SideConversationImports = ReturnType<typeof createSideConversationImports>;
