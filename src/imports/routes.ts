import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses } from '../http/schemas.js';
import { presentEvent, presentSideConversation } from '../side-conversations/presenter.js';
import { SideConversationParams, TicketParams, WriteEnvelope } from '../side-conversations/schemas.js';
import type { WriteResult } from '../side-conversations/service.js';
import { presentTicket } from '../tickets/presenter.js';
import { TicketEnvelope } from '../tickets/schemas.js';
import { presentUser } from '../users/presenter.js';
import { UserEnvelope } from '../users/schemas.js';
import { importExamples as ex } from './examples.js';
import { CreateOrUpdateUserBody, ImportEventsBody, ImportSideConversationBody, ImportTicketBody } from './schemas.js';
import { createSideConversationImports } from './side-conversations.js';
import { createTicketImports } from './tickets.js';
import { createOrUpdateUser } from './users.js';

/**
 * Zendesk's import endpoints (admins only): side conversations with their history, more events of
 * one, tickets with their comments, and Create Or Update User. What they write keeps its original
 * times and is delivered to nobody.
 */
export const importsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const sideConversations = createSideConversationImports({ db: ctx.db });
  const tickets = createTicketImports({ db: ctx.db });
  const actorOf = (request: Parameters<typeof principalOf>[0]) => {
    const me = principalOf(request);
    return { accountId: me.accountId, userId: me.userId, name: me.name, email: me.email };
  };
  const presentWrite = (result: WriteResult, base: string) => ({
    event: result.event ? presentEvent(result.event, result.details, base) : null,
    side_conversation: presentSideConversation(result.sideConversation, result.participants, base),
    updates: result.updates,
  });

  app.post(
    '/api/v2/tickets/:ticket_id/side_conversations/import',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Imports'],
        summary: 'Import Side Conversation (admins): a side conversation with its history, original times kept, nothing delivered',
        params: TicketParams,
        body: withExamples(ImportSideConversationBody, ex.importBody),
        response: { 201: withExamples(WriteEnvelope, ex.importResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const result = await sideConversations.importSideConversation(actorOf(request), request.params.ticket_id, request.body);
      return reply.code(201).send(presentWrite(result, ctx.baseUrl(request)));
    },
  );

  app.post(
    '/api/v2/tickets/:ticket_id/side_conversations/:side_conversation_id/events/import',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Imports'],
        summary: 'Import Side Conversation Events (admins): more history, after the last event, nothing delivered',
        params: SideConversationParams,
        body: withExamples(ImportEventsBody, ex.eventsImportBody),
        response: { 201: withExamples(WriteEnvelope, ex.eventsImportResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { ticket_id: ticketId, side_conversation_id: id } = request.params;
      const result = await sideConversations.importEvents(actorOf(request), ticketId, id, request.body);
      return reply.code(201).send(presentWrite(result, ctx.baseUrl(request)));
    },
  );

  app.post(
    '/api/v2/imports/tickets',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Imports'],
        summary: 'Ticket Import (admins): a ticket with its comments, authors and times kept',
        body: withExamples(ImportTicketBody, ex.ticketImportBody),
        response: { 201: withExamples(TicketEnvelope, ex.ticketImportResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const me = principalOf(request);
      const ticket = await tickets.importTicket({ accountId: me.accountId, userId: me.userId }, request.body.ticket);
      return reply.code(201).send({ ticket: presentTicket(ticket, ctx.baseUrl(request)) });
    },
  );

  app.post(
    '/api/v2/users/create_or_update',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Users'],
        summary: 'Create Or Update User (admins): matched by email; 201 when made, 200 when updated',
        body: withExamples(CreateOrUpdateUserBody, ex.createOrUpdateBody),
        response: { 200: withExamples(UserEnvelope, ex.createOrUpdateResponse), 201: UserEnvelope, ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const { user, created } = await createOrUpdateUser(ctx.db, ctx.services.users, principalOf(request), request.body.user);
      return reply.code(created ? 201 : 200).send({ user: presentUser(user, ctx.baseUrl(request)) });
    },
  );
};
