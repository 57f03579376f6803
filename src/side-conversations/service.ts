import type { Kysely } from 'kysely';
import { attachmentsOfEvents } from '../attachments/repo.js';
import { deliveriesOfEvents } from '../outbox/deliveries.js';
import type { Executor } from '../db/executor.js';
import { NO_READ_CACHE, type Reads } from '../db/read-cache.js';
import type { Database, ParticipantRecord, SideConversation, SideConversationEvent } from '../db/types.js';
import { notFound } from '../errors.js';
import type { OffsetPage } from '../http/pagination.js';
import type { SideConversationCommands, EventDetails, WriteResult } from './commands.js';
import { RenderedRows, type Rendered } from '../db/rendered-rows.js';
import {
  eventsOf,
  eventsSince,
  listEvents,
  listSideConversationVersions,
  shownSideConversations,
  sideConversationVersion,
  type PresentedParticipant,
} from './repo.js';
import type { CreateSideConversationBody, ReplyBody, UpdateSideConversationBody } from './schemas.js';

export type { EventDetails, WriteResult } from './commands.js';

/** The agent an API write is done for. */
export interface Actor {
  accountId: number;
  userId: number | null;
  name: string | null;
  email: string | null;
}

export interface SideConversationWithParticipants {
  sideConversation: SideConversation;
  participants: PresentedParticipant[];
}

export interface EventsWithDetails {
  events: SideConversationEvent[];
  details: Map<string, EventDetails>;
}

/** How a conversation is rendered as JSON for one request; `key` names what else the JSON depends on (the base URL of its links). */
export interface Renderer {
  key: string;
  render(conversation: SideConversationWithParticipants): string;
}

function actorParticipant(actor: Actor): ParticipantRecord {
  return { user_id: actor.userId, name: actor.name, email: actor.email };
}

export function createSideConversationsService({
  db,
  commands,
  reads = NO_READ_CACHE,
  rendered = new RenderedRows(),
  hotReads = db,
}: {
  db: Kysely<Database>;
  /** The writes (commands.ts): this service gives them the API's input, in a transaction of their own. */
  commands: SideConversationCommands;
  /** Hot reads (Show, List, Events) may be kept until the next write: the embedded store's ReadCache. */
  reads?: Reads | undefined;
  /** Show's and List's JSON of each conversation, kept by row version. */
  rendered?: Rendered | undefined;
  /** Where Show and List read their conversations' versions (Store.hotReads: one shared connection on PostgreSQL). */
  hotReads?: Kysely<Database> | undefined;
}) {
  /**
   * The JSON of each conversation named, in the order named: kept renderings where the version still
   * matches, the rest read in one query and rendered (a conversation gone meanwhile is left out).
   */
  async function renderedConversations(accountId: number, ticketId: number, wanted: Array<{ id: string; version: string }>, renderer: Renderer): Promise<string[]> {
    const keyOf = (id: string) => `${renderer.key} ${id}`;
    const json = new Map<string, string>();
    const missing: string[] = [];
    for (const { id, version } of wanted) {
      const kept = rendered.get(keyOf(id), version);
      if (kept === undefined) missing.push(id);
      else json.set(id, kept);
    }
    if (missing.length > 0) {
      for (const { version, ...conversation } of await shownSideConversations(db, accountId, ticketId, missing)) {
        const out = renderer.render(conversation);
        rendered.set(keyOf(conversation.sideConversation.id), version, out);
        json.set(conversation.sideConversation.id, out);
      }
    }
    return wanted.flatMap(({ id }) => json.get(id) ?? []);
  }

  async function withDetails(executor: Executor, accountId: number, events: SideConversationEvent[]): Promise<EventsWithDetails> {
    const ids = events.map((e) => e.id);
    const [attachments, deliveries] = await Promise.all([attachmentsOfEvents(executor, accountId, ids), deliveriesOfEvents(executor, accountId, ids)]);
    return {
      events,
      details: new Map(ids.map((id) => [id, { attachments: attachments.get(id) ?? [], deliveries: deliveries.get(id) ?? [] }])),
    };
  }

  /** The events of these conversations, with their attachments and deliveries. */
  async function eventsWithDetails(accountId: number, ids: string[]): Promise<EventsWithDetails> {
    return withDetails(db, accountId, await eventsOf(db, accountId, ids));
  }

  return {
    create(actor: Actor, ticketId: number, input: CreateSideConversationBody): Promise<WriteResult> {
      return db.transaction().execute((trx) =>
        commands.startSideConversation(trx, {
          accountId: actor.accountId,
          ticketId,
          via: 'api',
          sender: actorParticipant(actor),
          message: input.message,
          externalIds: input.external_ids,
          endsTransaction: true,
        }),
      );
    },

    reply(actor: Actor, ticketId: number, id: string, input: ReplyBody): Promise<WriteResult> {
      return db.transaction().execute((trx) =>
        commands.addMessage(trx, { accountId: actor.accountId, conversation: { id, ticketId }, via: 'api', sender: actorParticipant(actor), message: input.message, endsTransaction: true }),
      );
    },

    update(actor: Actor, ticketId: number, id: string, input: UpdateSideConversationBody): Promise<WriteResult> {
      const fields = input.side_conversation;
      return db.transaction().execute(async (trx) => {
        const result = await commands.change(trx, {
          accountId: actor.accountId,
          conversation: { id, ticketId },
          via: 'api',
          sender: actorParticipant(actor),
          state: fields.state,
          subject: fields.subject,
          withParticipants: true,
          endsTransaction: true,
        });
        return {
          sideConversation: result.sideConversation,
          participants: result.participants ?? [],
          event: result.event,
          details: { attachments: [], deliveries: [] },
          updates: result.updates,
        };
      });
    },

    /** A conversation's JSON (by `renderer`), and its events when asked for. */
    async show(accountId: number, ticketId: number, id: string, includeEvents: boolean, renderer: Renderer) {
      // Found by account, ticket and id together: a conversation found means its ticket exists.
      const found = await reads.get(`show/${accountId}/${ticketId}/${id}`, () => sideConversationVersion(hotReads, accountId, ticketId, id));
      if (!found) throw notFound();
      // The events need only the id: read beside the conversation, not after it.
      const [[json], events] = await Promise.all([
        renderedConversations(accountId, ticketId, [found], renderer),
        includeEvents ? eventsWithDetails(accountId, [found.id]) : undefined,
      ]);
      if (json === undefined) throw notFound();
      return { json, events };
    },

    /** A page of a ticket's conversations as JSON (by `renderer`), the total, and their events when asked for. */
    async list(accountId: number, ticketId: number, page: OffsetPage, includeEvents: boolean, renderer: Renderer) {
      const listed = await reads.get(`list/${accountId}/${ticketId}/${page.offset}/${page.perPage}`, () =>
        listSideConversationVersions(hotReads, accountId, ticketId, page.offset, page.perPage),
      );
      if (!listed) throw notFound();
      const [items, events] = await Promise.all([
        renderedConversations(accountId, ticketId, listed.rows, renderer),
        includeEvents ? eventsWithDetails(accountId, listed.rows.map((r) => r.id)) : undefined,
      ]);
      return { items, count: listed.count, events };
    },

    /**
     * The incremental export: events from `startTime` (unix seconds) on, at most `limit`. Like
     * Zendesk's exports, the next page starts at the last event's second, so a client may see an
     * event twice at a page boundary (it dedupes by id) but never misses one.
     */
    async exportEvents(accountId: number, startTime: number, limit: number) {
      let rows = await eventsSince(db, accountId, new Date(startTime * 1000), limit);
      const secondOf = (e: SideConversationEvent) => Math.floor(e.created_at.getTime() / 1000);
      const last = rows[rows.length - 1];
      let endTime = last ? secondOf(last) : startTime;
      if (rows.length === limit && endTime === startTime) {
        // A full page inside one second would send the client back to the same second forever:
        // this page takes that whole second instead (bounded), and the next starts after it.
        rows = (await eventsSince(db, accountId, new Date(startTime * 1000), 10_000)).filter((e) => secondOf(e) === startTime);
        endTime = startTime + 1;
      }
      return { ...(await withDetails(db, accountId, rows)), endTime, more: rows.length >= limit };
    },

    async events(accountId: number, ticketId: number, id: string, page: OffsetPage) {
      return reads.get(`events/${accountId}/${ticketId}/${id}/${page.offset}/${page.perPage}`, async () => {
        const listed = await listEvents(db, accountId, ticketId, id, page.offset, page.perPage);
        if (!listed) throw notFound();
        return { ...(await withDetails(db, accountId, listed.rows)), count: listed.count };
      });
    },
  };
}

export type SideConversationsService = ReturnType<typeof createSideConversationsService>;
