import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AccountResolver } from '../accounts/accounts.js';
import { unauthorized } from '../http/errors.js';
import { clearedSessionCookie, sessionCookie } from './cookie.js';
import { presentSession } from './presenter.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses } from '../http/schemas.js';
import { sessionExamples as ex } from './examples.js';
import { SessionEnvelope, SignInBody } from './schemas.js';
import { invalidCredentials, type ConsoleSessions } from './service.js';

/** Sign-in for the agent console: a session cookie instead of credentials on every request. */
export const sessionRoutes: FastifyPluginAsyncTypebox<{ sessions: ConsoleSessions; accounts: AccountResolver }> = async (app, { sessions, accounts }) => {
  app.post(
    '/api/v2/sideline/session',
    {
      config: { access: 'public' },
      schema: {
        tags: ['Agent console'],
        summary: 'Sign in to the agent console (sets the sideline_session cookie)',
        body: withExamples(SignInBody, ex.signInBody),
        response: { 201: withExamples(SessionEnvelope, ex.signInResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const accountId = await accounts.resolve(request.headers.host);
      if (accountId === null) throw invalidCredentials();
      const { token, session } = await sessions.signIn(accountId, request.body.email, request.body.password, request.ip);
      return reply
        .code(201)
        .header('set-cookie', sessionCookie(token, request.protocol === 'https'))
        .header('cache-control', 'no-store')
        .send(presentSession(session));
    },
  );

  app.get(
    '/api/v2/sideline/session',
    {
      config: { access: 'any' },
      schema: { tags: ['Agent console'], summary: 'The current console session', response: { 200: withExamples(SessionEnvelope, ex.showResponse), ...ErrorResponses } },
    },
    async (request, reply) => {
      if (!request.consoleSession) throw unauthorized(false);
      return reply.header('cache-control', 'no-store').send(presentSession(request.consoleSession));
    },
  );

  app.delete(
    '/api/v2/sideline/session',
    {
      config: { access: 'any' },
      schema: { tags: ['Agent console'], summary: 'Sign out: revoke the session and clear its cookie', response: { 204: Type.Null({ description: 'Signed out' }), ...ErrorResponses } },
    },
    async (request, reply) => {
      if (!request.consoleSession) throw unauthorized(false);
      await sessions.signOut(request.consoleSession);
      return reply.code(204).header('set-cookie', clearedSessionCookie(request.protocol === 'https')).send(null);
    },
  );
};
