import type { Kysely } from 'kysely';
import { attachmentsOfEvents } from '../attachments/repo.js';
import { deliveriesOfEvents } from '../outbox/deliveries.js';
import type { Executor } from '../db/executor.js';
import { NO_READ_CACHE, type Reads } from '../db/read-cache.js';
import type { Database, ParticipantRecord, SideConversation, SideConversationEvent } from '../db/types.js';
import { notFound } from '../errors.js';
import type { OffsetPage } from '../http/pagination.js';
import type { SideConversationCommands, EventDetails, WriteResult } from './commands.js';
import {
  eventsOf,
  findSideConversationWithParticipants,
  eventsSince,
  listEvents,
  listSideConversations,
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

function actorParticipant(actor: Actor): ParticipantRecord {
  return { user_id: actor.userId, name: actor.name, email: actor.email };
}

export function createSideConversationsService({
  db,
  commands,
  reads = NO_READ_CACHE,
}: {
  db: Kysely<Database>;
  /** The writes (commands.ts): this service gives them the API's input, in a transaction of their own. */
  commands: SideConversationCommands;
  /** Hot reads (Show, List, Events) may be kept until the next write: the embedded store's ReadCache. */
  reads?: Reads | undefined;
}) {
  async function withDetails(executor: Executor, accountId: number, events: SideConversationEvent[]): Promise<EventsWithDetails> {
    const ids = events.map((e) => e.id);
    const [attachments, deliveries] = await Promise.all([attachmentsOfEvents(executor, accountId, ids), deliveriesOfEvents(executor, accountId, ids)]);
    return {
      events,
      details: new Map(ids.map((id) => [id, { attachments: attachments.get(id) ?? [], deliveries: deliveries.get(id) ?? [] }])),
    };
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
        }),
      );
    },

    reply(actor: Actor, ticketId: number, id: string, input: ReplyBody): Promise<WriteResult> {
      return db.transaction().execute((trx) =>
        commands.addMessage(trx, { accountId: actor.accountId, conversation: { id, ticketId }, via: 'api', sender: actorParticipant(actor), message: input.message }),
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

    async show(accountId: number, ticketId: number, id: string, includeEvents: boolean) {
      // Found by account, ticket and id together: a conversation found means its ticket exists.
      const found = await reads.get(`show/${accountId}/${ticketId}/${id}`, () => findSideConversationWithParticipants(db, accountId, ticketId, id));
      if (!found) throw notFound();
      const events = includeEvents ? await withDetails(db, accountId, await eventsOf(db, accountId, [id])) : undefined;
      return { ...found, events };
    },

    async list(accountId: number, ticketId: number, page: OffsetPage, includeEvents: boolean) {
      const listed = await reads.get(`list/${accountId}/${ticketId}/${page.offset}/${page.perPage}`, () =>
        listSideConversations(db, accountId, ticketId, page.offset, page.perPage),
      );
      if (!listed) throw notFound();
      const ids = listed.rows.map((r) => r.sideConversation.id);
      const events = includeEvents ? await withDetails(db, accountId, await eventsOf(db, accountId, ids)) : undefined;
      return { items: listed.rows, count: listed.count, events };
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
