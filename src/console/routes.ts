import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { offsetPage, pageLinks } from '../http/pagination.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses, SimpleError } from '../http/schemas.js';
import { consoleExamples as ex } from './examples.js';
import { presentConsoleTicket, presentDestinations, presentReadMarker } from './presenter.js';
import {
  DestinationsResponse,
  MarkReadParams,
  ReadMarkerEnvelope,
  ReadMarkersParams,
  ReadMarkersResponse,
  SlackChannelsParams,
  SlackChannelsResponse,
  TicketListQuery,
  TicketListResponse,
} from './schemas.js';
import type { ConsoleService } from './service.js';
import type { SlackChannels } from './slack-channels.js';

/** The agent console's own reads: its ticket list and read markers (agents and admins). */
export const consoleRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext; console: ConsoleService; slackChannels: SlackChannels }> = async (
  app,
  { ctx, console: service, slackChannels },
) => {
  app.get(
    '/api/v2/sideline/ticket_list',
    {
      schema: {
        tags: ['Agent console'],
        summary: 'Tickets for the console: a filter, requester and assignee, side conversation and unread counts',
        querystring: TicketListQuery,
        response: { 200: withExamples(TicketListResponse, ex.ticketListResponse), ...ErrorResponses },
      },
    },
    async (request) => {
      const page = offsetPage(request.query);
      const filter = request.query.filter ?? 'all';
      const { rows, count } = await service.ticketList(principalOf(request), filter, page);
      const base = ctx.baseUrl(request);
      return {
        tickets: rows.map((row) => presentConsoleTicket(row, base)),
        count,
        ...pageLinks(base, '/api/v2/sideline/ticket_list', page, count, { filter }),
      };
    },
  );

  app.get(
    '/api/v2/sideline/tickets/:ticket_id/read_markers',
    {
      schema: {
        tags: ['Agent console'],
        summary: "The caller's read marker and unread count for each side conversation of a ticket",
        params: ReadMarkersParams,
        response: { 200: withExamples(ReadMarkersResponse, ex.readMarkersResponse), ...ErrorResponses },
      },
    },
    async (request) => ({
      read_markers: (await service.readMarkers(principalOf(request), request.params.ticket_id)).map(presentReadMarker),
    }),
  );

  app.put(
    '/api/v2/sideline/side_conversations/:id/read',
    {
      schema: {
        tags: ['Agent console'],
        summary: 'Mark a side conversation read up to now, for the caller',
        params: MarkReadParams,
        response: { 200: withExamples(ReadMarkerEnvelope, ex.markReadResponse), ...ErrorResponses },
      },
    },
    async (request) => ({ read_marker: presentReadMarker(await service.markRead(principalOf(request), request.params.id)) }),
  );

  app.get(
    '/api/v2/sideline/side_conversation_destinations',
    {
      schema: {
        tags: ['Agent console'],
        summary: 'Where a new Slack or Teams side conversation can go: connected workspaces, the Teams bot, and the channels used before',
        response: { 200: withExamples(DestinationsResponse, ex.destinationsResponse), ...ErrorResponses },
      },
    },
    async (request) => presentDestinations(await service.destinations(principalOf(request))),
  );

  app.get(
    '/api/v2/sideline/side_conversation_destinations/slack/:team_id/channels',
    {
      schema: {
        tags: ['Agent console'],
        summary: "A connected Slack workspace's channels (Slack's conversations.list with its bot token), for New side conversation",
        description:
          'Unarchived public and private channels the bot can see, by name; read from Slack at most once a minute per workspace. 404 when the workspace is not connected; 502 SlackUnavailable (with Slack\'s reason) when Slack refuses or cannot be reached, so the console falls back to a typed channel id.',
        params: SlackChannelsParams,
        response: { 200: withExamples(SlackChannelsResponse, ex.slackChannelsResponse), ...ErrorResponses, 502: SimpleError },
      },
    },
    async (request) => {
      const list = await slackChannels.list(principalOf(request).accountId, request.params.team_id);
      return { slack_channels: list.channels, complete: list.complete };
    },
  );
};
