import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { OffsetPageQuery, offsetPage, pageLinks, PageLinks } from '../http/pagination.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses, IntegerId } from '../http/schemas.js';
import { apiTokenExamples as ex } from './examples.js';
import { isoSeconds } from '../http/time.js';

const ApiTokenSchema = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  user_id: Type.Integer(),
  description: Type.Union([Type.String(), Type.Null()]),
  token: Type.Optional(Type.String()),
  token_hint: Type.String(),
  active: Type.Boolean(),
  created_at: Type.String(),
});

export const apiTokensRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { apiTokens } = ctx.services;
  const url = (base: string, id: number) => `${base}/api/v2/api_tokens/${id}.json`;

  app.post(
    '/api/v2/api_tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Authentication'],
        summary: 'Create an API token (admins only); the token is shown once',
        body: withExamples(
          Type.Object({
            api_token: Type.Object({
              description: Type.Optional(Type.String({ maxLength: 255 })),
              user_id: Type.Optional(IntegerId),
            }),
          }),
          ex.createBody,
        ),
        response: { 201: withExamples(Type.Object({ api_token: ApiTokenSchema }), ex.createResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const me = principalOf(request);
      const input = request.body.api_token;
      const created = await apiTokens.createToken(me.accountId, { userId: input.user_id ?? me.userId }, input.description ?? null);
      return reply.code(201).send({
        api_token: {
          id: created.id,
          url: url(ctx.baseUrl(request), created.id),
          user_id: created.userId,
          description: created.description,
          token: created.token,
          token_hint: created.hint,
          active: true,
          created_at: isoSeconds(created.createdAt),
        },
      });
    },
  );

  app.get(
    '/api/v2/api_tokens',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Authentication'],
        summary: 'List API tokens (hints only)',
        querystring: OffsetPageQuery,
        response: { 200: withExamples(Type.Object({ api_tokens: Type.Array(ApiTokenSchema), ...PageLinks }), ex.listResponse), ...ErrorResponses },
      },
    },
    async (request) => {
      const base = ctx.baseUrl(request);
      const page = offsetPage(request.query);
      const { rows, count } = await apiTokens.listTokens(principalOf(request).accountId, page);
      return {
        count,
        ...pageLinks(base, '/api/v2/api_tokens.json', page, count),
        api_tokens: rows.map((r) => ({
          id: r.id,
          url: url(base, r.id),
          user_id: r.user_id,
          description: r.description,
          token_hint: r.token_hint,
          active: true,
          created_at: isoSeconds(r.created_at),
        })),
      };
    },
  );

  app.delete(
    '/api/v2/api_tokens/:id',
    {
      config: { access: 'admin' },
      schema: { tags: ['Authentication'], summary: 'Revoke an API token', params: Type.Object({ id: IntegerId }), response: { 204: Type.Null(), ...ErrorResponses } },
    },
    async (request, reply) => {
      await apiTokens.revokeToken(principalOf(request).accountId, request.params.id);
      return reply.code(204).send(null);
    },
  );
};
