import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { OffsetPageQuery, offsetPage, pageLinks } from '../http/pagination.js';
import { ErrorResponses } from '../http/schemas.js';
import { Type } from '@sinclair/typebox';
import { presentEvent, presentSideConversation } from './presenter.js';
import {
  CreateSideConversationBody,
  IncludeQuery,
  ListEnvelope,
  SideConversationParams,
  ShowEnvelope,
  TicketParams,
  UpdateSideConversationBody,
  WriteEnvelope,
} from './schemas.js';
import type { Actor, WriteResult } from './service.js';

function actorOf(request: FastifyRequest): Actor {
  const me = principalOf(request);
  return { accountId: me.accountId, userId: me.userId, name: me.name, email: me.email };
}

function includesEvents(include: string | undefined): boolean {
  return (include ?? '').split(',').map((s) => s.trim()).includes('events');
}

export const sideConversationsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { sideConversations } = ctx.services;

  const presentWrite = (result: WriteResult, base: string) => ({
    event: result.event ? presentEvent(result.event) : null,
    side_conversation: presentSideConversation(result.sideConversation, result.participants, base),
    updates: result.updates,
  });

  app.get(
    '/api/v2/tickets/:ticket_id/side_conversations',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'List Side Conversations',
        params: TicketParams,
        querystring: Type.Intersect([OffsetPageQuery, IncludeQuery]),
        response: { 200: ListEnvelope, ...ErrorResponses },
      },
    },
    async (request) => {
      const page = offsetPage(request.query);
      const withEvents = includesEvents(request.query.include);
      const { ticket_id: ticketId } = request.params;
      const result = await sideConversations.list(principalOf(request).accountId, ticketId, page, withEvents);
      const base = ctx.baseUrl(request);
      return {
        side_conversations: result.items.map((i) => presentSideConversation(i.sideConversation, i.participants, base)),
        ...(result.events ? { events: result.events.map(presentEvent) } : {}),
        count: result.count,
        ...pageLinks(base, `/api/v2/tickets/${ticketId}/side_conversations.json`, page, result.count, withEvents ? { include: 'events' } : {}),
      };
    },
  );

  app.get(
    '/api/v2/tickets/:ticket_id/side_conversations/:side_conversation_id',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'Show Side Conversation',
        params: SideConversationParams,
        querystring: IncludeQuery,
        response: { 200: ShowEnvelope, ...ErrorResponses },
      },
    },
    async (request) => {
      const { ticket_id: ticketId, side_conversation_id: id } = request.params;
      const result = await sideConversations.show(principalOf(request).accountId, ticketId, id, includesEvents(request.query.include));
      return {
        side_conversation: presentSideConversation(result.sideConversation, result.participants, ctx.baseUrl(request)),
        ...(result.events ? { events: result.events.map(presentEvent) } : {}),
      };
    },
  );

  app.post(
    '/api/v2/tickets/:ticket_id/side_conversations',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'Create Side Conversation',
        params: TicketParams,
        body: CreateSideConversationBody,
        response: { 201: WriteEnvelope, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const result = await sideConversations.create(actorOf(request), request.params.ticket_id, request.body);
      return reply.code(201).send(presentWrite(result, ctx.baseUrl(request)));
    },
  );

  app.put(
    '/api/v2/tickets/:ticket_id/side_conversations/:side_conversation_id',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'Update Side Conversation',
        params: SideConversationParams,
        body: UpdateSideConversationBody,
        response: { 200: WriteEnvelope, ...ErrorResponses },
      },
    },
    async (request) => {
      const { ticket_id: ticketId, side_conversation_id: id } = request.params;
      const result = await sideConversations.update(actorOf(request), ticketId, id, request.body);
      return presentWrite(result, ctx.baseUrl(request));
    },
  );
};
