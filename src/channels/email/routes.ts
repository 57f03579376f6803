import { createHash, timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { ApiError, unauthorized } from '../../http/errors.js';
import { invalidField } from '../../errors.js';
import { withExamples } from '../../http/docs.js';
import { ErrorResponses } from '../../http/schemas.js';
import { inboundEmailExamples as ex } from './examples.js';
import { InboundRefusal, receiveEmail, type InboundDeps } from './receive.js';

const InboundEmailAnswer = Type.Object({
  inbound_email: Type.Object({ side_conversation_id: Type.String(), ticket_id: Type.Integer(), event_id: Type.Union([Type.String(), Type.Null()]), duplicate: Type.Boolean() }),
});

export interface InboundEmailRouteOptions {
  deps: InboundDeps;
  /** Shared secret of the mail provider; the route answers 404 while it is unset. */
  secret: string | undefined;
  maxBytes: number;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** `Bearer SECRET`, or Basic with SECRET as the password (for providers that only put credentials in the URL). */
function presentedSecret(request: FastifyRequest): string | null {
  const header = request.headers.authorization ?? '';
  const [scheme, value] = header.split(/\s+/, 2);
  if (!scheme || !value) return null;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    return decoded.slice(decoded.indexOf(':') + 1);
  }
  return null;
}

/** POST /api/v2/inbound/email: a raw RFC 822 message from a mail provider that forwards by HTTP. */
export const inboundEmailRoutes: FastifyPluginAsyncTypebox<InboundEmailRouteOptions> = async (app, { deps, secret, maxBytes }) => {
  for (const type of ['message/rfc822', 'application/octet-stream']) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: maxBytes }, (_request, body, done) => done(null, body));
  }

  app.post(
    '/api/v2/inbound/email',
    {
      config: { access: 'public' },
      bodyLimit: maxBytes,
      schema: {
        tags: ['Inbound'],
        summary: 'Receive a raw email (Content-Type: message/rfc822) answering a side conversation',
        response: {
          201: withExamples(InboundEmailAnswer, ex.createdResponse),
          200: withExamples({ ...InboundEmailAnswer, description: 'The same message again: recorded once, duplicate true' }, ex.duplicateResponse),
          ...ErrorResponses,
        },
      },
    },
    async (request, reply) => {
      // 404, not 503: a provider retries a 503 for days, while this door stays shut until the operator opens it.
      if (!secret) {
        throw new ApiError(404, {
          error: 'EndpointDisabled',
          description: 'Inbound email over HTTP is disabled on this server: set INBOUND_EMAIL_SECRET (16 or more characters) and restart to enable it.',
        });
      }
      const presented = presentedSecret(request);
      if (presented === null || !timingSafeEqual(digest(presented), digest(secret))) throw unauthorized();
      if (!Buffer.isBuffer(request.body) || request.body.length === 0) {
        throw invalidField('base', 'Send the raw message with Content-Type: message/rfc822');
      }
      try {
        const result = await receiveEmail(deps, request.body);
        return reply.code(result.duplicate ? 200 : 201).send({
          inbound_email: { side_conversation_id: result.sideConversationId, ticket_id: result.ticketId, event_id: result.eventId, duplicate: result.duplicate },
        });
      } catch (error) {
        if (error instanceof InboundRefusal) {
          request.log.warn({ reason: error.message }, 'inbound email refused');
          throw invalidField('base', error.message, 'InboundRefused');
        }
        throw error;
      }
    },
  );
};
