import type { Kysely } from 'kysely';
import type { Principal } from '../auth/authenticator.js';
import type { Database } from '../db/types.js';
import { notFound } from '../errors.js';
import type { OffsetPage } from '../http/pagination.js';
import { findTeamsBot, listSlackWorkspaces } from '../integrations/service.js';
import { findTicket } from '../tickets/repo.js';
import { listConsoleTickets, markRead, readMarkersOfTicket, sideConversationExists, usedSlackChannels, usedTeamsChannels } from './repo.js';
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

    /**
     * Where a new Slack or Teams side conversation can go: the connected workspaces and whether a
     * Teams bot is connected, each with the channels used before (only of what is still connected).
     */
    async destinations(me: Principal) {
      const [workspaces, bot, slackChannels, teamsChannels] = await Promise.all([
        listSlackWorkspaces(db, me.accountId),
        findTeamsBot(db, me.accountId),
        usedSlackChannels(db, me.accountId),
        usedTeamsChannels(db, me.accountId),
      ]);
      return {
        slackWorkspaces: workspaces.map((w) => ({
          teamId: w.team_id,
          name: w.name,
          channelIds: slackChannels.filter((c) => c.slack_workspace_id === w.team_id).map((c) => c.slack_channel_id),
        })),
        teams: { connected: bot !== undefined, channelIds: bot ? teamsChannels : [] },
      };
    },
  };
}

export type ConsoleService = ReturnType<typeof createConsoleService>;
