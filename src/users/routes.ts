import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { OffsetPageQuery, offsetPage, pageLinks } from '../http/pagination.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses } from '../http/schemas.js';
import { userExamples as ex } from './examples.js';
import { presentUser } from './presenter.js';
import { ChangePasswordBody, CreateUserBody, SetPasswordBody, UpdateUserBody, UserEnvelope, UserIdParams, UserList, UserRoleSchema } from './schemas.js';

export const usersRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { users } = ctx.services;

  app.post(
    '/api/v2/users',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Users'],
        summary: 'Create a user (admins only)',
        body: withExamples(CreateUserBody, ex.createBody),
        response: { 201: withExamples(UserEnvelope, ex.createResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const user = await users.createUser(principalOf(request).accountId, request.body.user);
      return reply.code(201).send({ user: presentUser(user, ctx.baseUrl(request)) });
    },
  );

  app.get(
    '/api/v2/users',
    {
      schema: {
        tags: ['Users'],
        summary: 'List users',
        querystring: Type.Intersect([
          OffsetPageQuery,
          Type.Object({
            role: Type.Optional(UserRoleSchema),
            // Zendesk's several roles at once: role[]=agent&role[]=admin (one value arrives as a string).
            'role[]': Type.Optional(Type.Union([UserRoleSchema, Type.Array(UserRoleSchema, { maxItems: 3 })], { description: 'More than one role: role[]=agent&role[]=admin' })),
          }),
        ]),
        response: { 200: withExamples(UserList, ex.listResponse), ...ErrorResponses },
      },
    },
    async (request) => {
      const page = offsetPage(request.query);
      const several = request.query['role[]'];
      const roles = [...new Set([...(request.query.role ? [request.query.role] : []), ...(several === undefined ? [] : Array.isArray(several) ? several : [several])])];
      const { rows, count } = await users.listUsers(principalOf(request).accountId, page, roles);
      const base = ctx.baseUrl(request);
      const extra: Record<string, string | string[]> = {
        ...(request.query.role ? { role: request.query.role } : {}),
        ...(several === undefined ? {} : { 'role[]': Array.isArray(several) ? several : [several] }),
      };
      return { users: rows.map((u) => presentUser(u, base)), count, ...pageLinks(base, '/api/v2/users.json', page, count, extra) };
    },
  );

  app.get(
    '/api/v2/users/me',
    {
      config: { access: 'any' },
      schema: { tags: ['Users'], summary: 'The authenticated user', response: { 200: withExamples(UserEnvelope, ex.meResponse), ...ErrorResponses } },
    },
    async (request) => {
      const me = principalOf(request);
      return { user: presentUser(await users.showUser(me.accountId, me.userId), ctx.baseUrl(request)) };
    },
  );

  app.get(
    '/api/v2/users/:id',
    {
      schema: { tags: ['Users'], summary: 'Show a user', params: UserIdParams, response: { 200: withExamples(UserEnvelope, ex.showResponse), ...ErrorResponses } },
    },
    async (request) => ({
      user: presentUser(await users.showUser(principalOf(request).accountId, request.params.id), ctx.baseUrl(request)),
    }),
  );

  app.put(
    '/api/v2/users/:id',
    {
      schema: {
        tags: ['Users'],
        summary: 'Update a user (admins: name, email, role, suspended; agents: their own name)',
        params: UserIdParams,
        body: withExamples(UpdateUserBody, ex.updateBody),
        response: { 200: withExamples(UserEnvelope, ex.updateResponse), ...ErrorResponses },
      },
    },
    async (request) => ({
      user: presentUser(await users.updateUser(principalOf(request), request.params.id, request.body.user), ctx.baseUrl(request)),
    }),
  );

  app.delete(
    '/api/v2/users/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Users'],
        summary: 'Delete a user (admins only): 200 with the user, active false; its tokens and sessions are revoked',
        params: UserIdParams,
        response: { 200: withExamples(UserEnvelope, ex.deleteResponse), ...ErrorResponses },
      },
    },
    async (request) => ({
      user: presentUser(await users.deleteUser(principalOf(request), request.params.id), ctx.baseUrl(request)),
    }),
  );

  // Zendesk answers both password calls with 200 and an empty body.
  app.post(
    '/api/v2/users/:id/password',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Users'],
        summary: "Set a user's password (admins only)",
        params: UserIdParams,
        body: withExamples(SetPasswordBody, ex.setPasswordBody),
        // 200 with an empty body, as Zendesk answers (a declared null would be serialised as `null`).
        response: { 200: withExamples(Type.Unknown({ description: 'Empty body' }), ex.passwordResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      await users.setPassword(principalOf(request), request.params.id, request.body.password);
      return reply.code(200).send(undefined);
    },
  );

  app.put(
    '/api/v2/users/:id/password',
    {
      config: { access: 'any' },
      schema: {
        tags: ['Users'],
        summary: 'Change your own password (needs previous_password)',
        params: UserIdParams,
        body: withExamples(ChangePasswordBody, ex.changePasswordBody),
        // 200 with an empty body, as Zendesk answers (a declared null would be serialised as `null`).
        response: { 200: withExamples(Type.Unknown({ description: 'Empty body' }), ex.passwordResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      await users.changeOwnPassword(principalOf(request), request.params.id, request.body, request.ip);
      return reply.code(200).send(undefined);
    },
  );
};
