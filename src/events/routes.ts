import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { invalidField, notFound } from '../errors.js';
import { ErrorResponses } from '../http/schemas.js';
import { eventStreamExamples } from './examples.js';
import { findTicket } from '../tickets/repo.js';
import type { EventStreams } from './stream.js';

const CURSOR = /^\d{1,15}$/;

export const eventStreamRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext; streams: EventStreams }> = async (app, { ctx, streams }) => {
  app.get(
    '/api/v2/sideline/stream',
    {
      schema: {
        tags: ['Sideline'],
        summary: 'Live stream of side conversation events (Server-Sent Events)',
        description:
          'text/event-stream. Each message: `id:` a cursor, `event:` side_conversation.created | replied | state_changed | ' +
          'subject_changed | delivery_changed, `data:` {id, type, account_id, time, ticket_id, side_conversation, event}. ' +
          'Resume with the Last-Event-ID header or ?after=CURSOR (after=0: from the first event). A `: ping` comment every 15 s.',
        querystring: Type.Object({
          ticket_id: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Only this ticket’s events' })),
          after: Type.Optional(Type.String({ pattern: CURSOR.source, description: 'Replay events after this cursor' })),
        }),
        headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ description: 'Replay events after this cursor' })) }),
        response: {
          // The route writes the stream itself (the reply is hijacked): this documents the body, nothing serialises it.
          200: {
            description: 'Server-Sent Events, one message per side conversation event',
            content: { 'text/event-stream': { schema: Type.String(), example: eventStreamExamples.stream } },
          },
          ...ErrorResponses,
        },
      },
    },
    async (request, reply) => {
      const me = principalOf(request);
      const header = request.headers['last-event-id'];
      const given = request.query.after ?? (typeof header === 'string' && header !== '' ? header : undefined);
      if (given !== undefined && !CURSOR.test(given)) throw invalidField('Last-Event-ID', 'Last-Event-ID: must be a cursor this stream sent');
      const ticketId = request.query.ticket_id;
      if (ticketId !== undefined && !(await findTicket(ctx.db, me.accountId, ticketId))) throw notFound();
      reply.hijack();
      await streams.open({
        accountId: me.accountId,
        ticketId,
        cursor: given === undefined ? null : Number(given),
        raw: reply.raw,
        base: ctx.baseUrl(request),
      });
    },
  );
};
