import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Answer, IdempotentRequest } from '../idempotency/service.js';
import { principalOf } from './auth.js';

/** The optional header of the idempotent writes, for their schemas (and so the OpenAPI document). */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      description:
        'Any unique value (1 to 255 printable ASCII characters, e.g. a UUID). The same key with the same request within 24 hours ' +
        'replays the first answer (with Idempotent-Replayed: true) without writing again; with another request it is a 422.',
    }),
  ),
});

/** The request as the idempotency service sees it; `asked` replaces the body where it is not JSON (uploads). */
export function idempotentRequest(request: FastifyRequest, asked: unknown = request.body): IdempotentRequest {
  const me = principalOf(request);
  return {
    accountId: me.accountId,
    userId: me.userId,
    key: request.headers['idempotency-key'],
    request: { method: request.method, route: request.routeOptions.url, params: request.params, asked },
  };
}

export function sendAnswer(reply: FastifyReply, answer: Answer & { replayed: boolean }): FastifyReply {
  if (answer.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(answer.status).send(answer.body);
}
