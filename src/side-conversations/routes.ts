import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withExamples } from '../http/docs.js';
import { sideConversationExamples as ex } from './examples.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { OffsetPageQuery, offsetPage, pageLinks } from '../http/pagination.js';
import { ErrorResponses } from '../http/schemas.js';
import { IdempotencyHeaders, idempotentRequest, sendAnswer } from '../http/idempotency.js';
import { listEnvelopeJson, presentEvent, presentEvents, presentSideConversation, showEnvelopeJson, sideConversationJson } from './presenter.js';
import {
  CreateSideConversationBody,
  EventList,
  EventSchema,
  IncludeQuery,
  ListEnvelope,
  ReplyBody,
  SideConversationParams,
  ShowEnvelope,
  TicketParams,
  UpdateSideConversationBody,
  WriteEnvelope,
} from './schemas.js';
import type { Actor, Renderer, WriteResult } from './service.js';

function actorOf(request: FastifyRequest): Actor {
  const me = principalOf(request);
  return { accountId: me.accountId, userId: me.userId, name: me.name, email: me.email };
}

/** Show's and List's conversations rendered as JSON with this request's base URL (kept by row version, see RenderedRows). */
function rendererFor(base: string): Renderer {
  return { key: base, render: (c) => sideConversationJson(c.sideConversation, c.participants, base) };
}

/** An answer whose JSON is already made (the route's schema still describes it, for the docs). */
function sendJson(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}

function includesEvents(include: string | undefined): boolean {
  return (include ?? '').split(',').map((s) => s.trim()).includes('events');
}

export const sideConversationsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { sideConversations, idempotency } = ctx.services;

  const presentWrite = (result: WriteResult, base: string) => ({
    event: result.event ? presentEvent(result.event, result.details, base) : null,
    side_conversation: presentSideConversation(result.sideConversation, result.participants, base),
    updates: result.updates,
  });

  app.get(
    '/api/v2/tickets/side_conversations/events',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'Incremental export of every side conversation event of the account',
        querystring: Type.Object({
          start_time: Type.Integer({ minimum: 0, maximum: 253402300799, description: 'Unix seconds' }),
          per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        }),
        response: {
          200: Type.Object(
            { events: Type.Array(EventSchema), next_page: Type.Union([Type.String(), Type.Null()]), end_time: Type.Integer(), count: Type.Integer() },
            { examples: [ex.exportResponse] },
          ),
          ...ErrorResponses,
        },
      },
    },
    async (request) => {
      const limit = request.query.per_page ?? 1000;
      const result = await sideConversations.exportEvents(principalOf(request).accountId, request.query.start_time, limit);
      const base = ctx.baseUrl(request);
      const next = new URLSearchParams({ start_time: String(result.endTime), ...(request.query.per_page ? { per_page: String(limit) } : {}) });
      return {
        events: presentEvents(result, base),
        next_page: result.more ? `${base}/api/v2/tickets/side_conversations/events.json?${next.toString()}` : null,
        end_time: result.endTime,
        count: result.events.length,
      };
    },
  );

  app.get(
    '/api/v2/tickets/:ticket_id/side_conversations',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'List Side Conversations',
        params: TicketParams,
        querystring: Type.Intersect([OffsetPageQuery, IncludeQuery]),
        response: { 200: withExamples(ListEnvelope, ex.listResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const page = offsetPage(request.query);
      const withEvents = includesEvents(request.query.include);
      const { ticket_id: ticketId } = request.params;
      const base = ctx.baseUrl(request);
      const result = await sideConversations.list(principalOf(request).accountId, ticketId, page, withEvents, rendererFor(base));
      const links = pageLinks(base, `/api/v2/tickets/${ticketId}/side_conversations.json`, page, result.count, withEvents ? { include: 'events' } : {});
      return sendJson(reply, listEnvelopeJson(result.items, result.events && presentEvents(result.events, base), { ...links, count: result.count }));
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
        response: { 200: withExamples(ShowEnvelope, ex.showResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { ticket_id: ticketId, side_conversation_id: id } = request.params;
      const base = ctx.baseUrl(request);
      const result = await sideConversations.show(principalOf(request).accountId, ticketId, id, includesEvents(request.query.include), rendererFor(base));
      return sendJson(reply, showEnvelopeJson(result.json, result.events && presentEvents(result.events, base)));
    },
  );

  app.post(
    '/api/v2/tickets/:ticket_id/side_conversations',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'Create Side Conversation',
        params: TicketParams,
        headers: IdempotencyHeaders,
        body: withExamples(CreateSideConversationBody, ex.createBody),
        response: { 201: withExamples(WriteEnvelope, ex.createResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const answer = await idempotency.run(idempotentRequest(request), async () => {
        const result = await sideConversations.create(actorOf(request), request.params.ticket_id, request.body);
        return { status: 201, body: presentWrite(result, ctx.baseUrl(request)) };
      });
      return sendAnswer(reply, answer);
    },
  );

  app.put(
    '/api/v2/tickets/:ticket_id/side_conversations/:side_conversation_id',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'Update Side Conversation',
        params: SideConversationParams,
        headers: IdempotencyHeaders,
        body: withExamples(UpdateSideConversationBody, ex.updateBody),
        response: { 200: withExamples(WriteEnvelope, ex.updateResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { ticket_id: ticketId, side_conversation_id: id } = request.params;
      const answer = await idempotency.run(idempotentRequest(request), async () => {
        const result = await sideConversations.update(actorOf(request), ticketId, id, request.body);
        return { status: 200, body: presentWrite(result, ctx.baseUrl(request)) };
      });
      return sendAnswer(reply, answer);
    },
  );

  app.post(
    '/api/v2/tickets/:ticket_id/side_conversations/:side_conversation_id/reply',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'Reply to Side Conversation',
        params: SideConversationParams,
        headers: IdempotencyHeaders,
        body: withExamples(ReplyBody, ex.replyBody),
        response: { 200: withExamples(WriteEnvelope, ex.replyResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { ticket_id: ticketId, side_conversation_id: id } = request.params;
      const answer = await idempotency.run(idempotentRequest(request), async () => {
        const result = await sideConversations.reply(actorOf(request), ticketId, id, request.body);
        return { status: 200, body: presentWrite(result, ctx.baseUrl(request)) };
      });
      return sendAnswer(reply, answer);
    },
  );

  app.get(
    '/api/v2/tickets/:ticket_id/side_conversations/:side_conversation_id/events',
    {
      schema: {
        tags: ['Side Conversations'],
        summary: 'List Side Conversation Events (oldest first)',
        params: SideConversationParams,
        querystring: OffsetPageQuery,
        response: { 200: withExamples(EventList, ex.eventsResponse), ...ErrorResponses },
      },
    },
    async (request) => {
      const { ticket_id: ticketId, side_conversation_id: id } = request.params;
      const page = offsetPage(request.query);
      const result = await sideConversations.events(principalOf(request).accountId, ticketId, id, page);
      const base = ctx.baseUrl(request);
      return {
        events: presentEvents(result, base),
        count: result.count,
        ...pageLinks(base, `/api/v2/tickets/${ticketId}/side_conversations/${id}/events.json`, page, result.count),
      };
    },
  );
};
