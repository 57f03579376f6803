import type { Kysely } from 'kysely';
import type { Principal } from '../auth/authenticator.js';
import type { Database } from '../db/types.js';
import { notFound } from '../http/errors.js';
import type { OffsetPage } from '../http/pagination.js';
import { findTicket } from '../tickets/repo.js';
import { listConsoleTickets, markRead, readMarkersOfTicket, sideConversationExists } from './repo.js';
import type { TicketListFilter } from './schemas.js';

/** What the agent console reads beyond Zendesk's API: its ticket list and per-agent read markers. */
export function createConsoleService({ db }: { db: Kysely<Database> }) {
  return {
    ticketList(me: Principal, filter: TicketListFilter, page: OffsetPage) {
      return listConsoleTickets(db, me.accountId, me.userId, filter, page.offset, page.perPage);
    },

    async readMarkers(me: Principal, ticketId: number) {
      if (!(await findTicket(db, me.accountId, ticketId))) throw notFound();
      return readMarkersOfTicket(db, me.accountId, me.userId, ticketId);
    },

    async markRead(me: Principal, sideConversationId: string) {
      if (!(await sideConversationExists(db, me.accountId, sideConversationId))) throw notFound();
      const lastReadAt = await markRead(db, me.accountId, me.userId, sideConversationId);
      return { side_conversation_id: sideConversationId, last_read_at: lastReadAt, unread_count: 0 };
    },
  };
}

export type ConsoleService = ReturnType<typeof createConsoleService>;
