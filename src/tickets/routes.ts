import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { OffsetPageQuery, offsetPage, pageLinks } from '../http/pagination.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses } from '../http/schemas.js';
import { ticketExamples as ex } from './examples.js';
import { IdempotencyHeaders, idempotentRequest, sendAnswer } from '../http/idempotency.js';
import { presentComment, presentTicket } from './presenter.js';
import { CommentList, CreateTicketBody, TicketEnvelope, TicketIdParams, TicketList, UpdateTicketBody } from './schemas.js';

export const ticketsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { tickets, idempotency } = ctx.services;

  app.post(
    '/api/v2/tickets',
    {
      schema: { tags: ['Tickets'], summary: 'Create a ticket', headers: IdempotencyHeaders, body: withExamples(CreateTicketBody, ex.createBody),
        response: { 201: withExamples(TicketEnvelope, ex.createResponse), ...ErrorResponses } },
    },
    async (request, reply) => {
      const me = principalOf(request);
      const answer = await idempotency.run(idempotentRequest(request), async () => {
        const ticket = await tickets.createTicket({ accountId: me.accountId, userId: me.userId }, request.body.ticket);
        return { status: 201, body: { ticket: presentTicket(ticket, ctx.baseUrl(request)) } };
      });
      return sendAnswer(reply, answer);
    },
  );

  app.get(
    '/api/v2/tickets',
    { schema: { tags: ['Tickets'], summary: 'List tickets', querystring: OffsetPageQuery, response: { 200: withExamples(TicketList, ex.listResponse), ...ErrorResponses } } },
    async (request) => {
      const page = offsetPage(request.query);
      const { rows, count } = await tickets.listTickets(principalOf(request).accountId, page);
      const base = ctx.baseUrl(request);
      return { tickets: rows.map((t) => presentTicket(t, base)), count, ...pageLinks(base, '/api/v2/tickets.json', page, count) };
    },
  );

  app.get(
    '/api/v2/tickets/:id',
    { schema: { tags: ['Tickets'], summary: 'Show a ticket', params: TicketIdParams, response: { 200: withExamples(TicketEnvelope, ex.showResponse), ...ErrorResponses } } },
    async (request) => ({
      ticket: presentTicket(await tickets.showTicket(principalOf(request).accountId, request.params.id), ctx.baseUrl(request)),
    }),
  );

  app.put(
    '/api/v2/tickets/:id',
    {
      schema: {
        tags: ['Tickets'],
        summary: 'Update a ticket, optionally adding a comment',
        params: TicketIdParams,
        body: withExamples(UpdateTicketBody, ex.updateBody),
        response: { 200: withExamples(TicketEnvelope, ex.updateResponse), ...ErrorResponses },
      },
    },
    async (request) => {
      const me = principalOf(request);
      const ticket = await tickets.updateTicket({ accountId: me.accountId, userId: me.userId }, request.params.id, request.body.ticket);
      return { ticket: presentTicket(ticket, ctx.baseUrl(request)) };
    },
  );

  app.get(
    '/api/v2/tickets/:id/comments',
    {
      schema: {
        tags: ['Tickets'],
        summary: "List a ticket's comments",
        params: TicketIdParams,
        querystring: OffsetPageQuery,
        response: { 200: withExamples(CommentList, ex.commentsResponse), ...ErrorResponses },
      },
    },
    async (request) => {
      const page = offsetPage(request.query);
      const { rows, count } = await tickets.listComments(principalOf(request).accountId, request.params.id, page);
      const base = ctx.baseUrl(request);
      return {
        comments: rows.map(presentComment),
        count,
        ...pageLinks(base, `/api/v2/tickets/${request.params.id}/comments.json`, page, count),
      };
    },
  );
};
