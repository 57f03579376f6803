import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { OffsetPageQuery, offsetPage, pageLinks } from '../http/pagination.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses } from '../http/schemas.js';
import { userExamples } from './examples.js';
import type { UserAutocompleteService } from './autocomplete.js';
import { presentUser } from './presenter.js';
import { UserList } from './schemas.js';

export const userAutocompleteRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext; service: UserAutocompleteService }> = async (app, { ctx, service }) => {
  app.get(
    '/api/v2/users/autocomplete',
    {
      schema: {
        tags: ['Users'],
        summary: 'Users whose name or email contains the text, those starting with it first (agents)',
        querystring: Type.Intersect([OffsetPageQuery, Type.Object({ name: Type.String({ minLength: 1, maxLength: 254 }) })]),
        response: { 200: withExamples(UserList, userExamples.autocompleteResponse), ...ErrorResponses },
      },
    },
    async (request) => {
      const page = offsetPage(request.query);
      const { rows, count } = await service.autocomplete(principalOf(request).accountId, request.query.name, page);
      const base = ctx.baseUrl(request);
      return {
        users: rows.map((u) => presentUser(u, base)),
        count,
        ...pageLinks(base, '/api/v2/users/autocomplete.json', page, count, { name: request.query.name }),
      };
    },
  );
};
