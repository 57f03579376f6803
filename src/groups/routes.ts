import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../http/auth.js';
import { OffsetPageQuery, offsetPage, pageLinks } from '../http/pagination.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses, IntegerId } from '../http/schemas.js';
import { groupExamples as ex } from './examples.js';
import { presentGroup, presentMembership } from './presenter.js';
import { CreateGroupBody, CreateMembershipBody, GroupEnvelope, GroupList, MembershipEnvelope, MembershipList } from './schemas.js';

export const groupsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { groups } = ctx.services;

  app.post(
    '/api/v2/groups',
    {
      config: { access: 'admin' },
      schema: { tags: ['Groups'], summary: 'Create a group (admins only)', body: withExamples(CreateGroupBody, ex.createBody),
        response: { 201: withExamples(GroupEnvelope, ex.createResponse), ...ErrorResponses } },
    },
    async (request, reply) => {
      const group = await groups.createGroup(principalOf(request).accountId, request.body.group);
      return reply.code(201).send({ group: presentGroup(group, ctx.baseUrl(request)) });
    },
  );

  app.get(
    '/api/v2/groups',
    { schema: { tags: ['Groups'], summary: 'List groups', querystring: OffsetPageQuery, response: { 200: withExamples(GroupList, ex.listResponse), ...ErrorResponses } } },
    async (request) => {
      const page = offsetPage(request.query);
      const { rows, count } = await groups.listGroups(principalOf(request).accountId, page);
      const base = ctx.baseUrl(request);
      return { groups: rows.map((g) => presentGroup(g, base)), count, ...pageLinks(base, '/api/v2/groups.json', page, count) };
    },
  );

  app.post(
    '/api/v2/group_memberships',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Groups'],
        summary: 'Add an agent to a group (admins only)',
        body: withExamples(CreateMembershipBody, ex.createMembershipBody),
        response: { 201: withExamples(MembershipEnvelope, ex.createMembershipResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const membership = await groups.createMembership(principalOf(request).accountId, request.body.group_membership);
      return reply.code(201).send({ group_membership: presentMembership(membership, ctx.baseUrl(request)) });
    },
  );

  app.get(
    '/api/v2/group_memberships',
    {
      schema: {
        tags: ['Groups'],
        summary: 'List group memberships',
        querystring: Type.Intersect([OffsetPageQuery, Type.Object({ group_id: Type.Optional(IntegerId) })]),
        response: { 200: withExamples(MembershipList, ex.membershipListResponse), ...ErrorResponses },
      },
    },
    async (request) => {
      const page = offsetPage(request.query);
      const { rows, count } = await groups.listMemberships(principalOf(request).accountId, page, request.query.group_id);
      const base = ctx.baseUrl(request);
      return {
        group_memberships: rows.map((m) => presentMembership(m, base)),
        count,
        ...pageLinks(base, '/api/v2/group_memberships.json', page, count, request.query.group_id ? { group_id: String(request.query.group_id) } : {}),
      };
    },
  );

  app.delete(
    '/api/v2/group_memberships/:group_membership_id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['Groups'],
        summary: 'Remove an agent from a group (admins only)',
        params: Type.Object({ group_membership_id: IntegerId }),
        response: { 204: Type.Null(), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      await groups.deleteMembership(principalOf(request).accountId, request.params.group_membership_id);
      return reply.code(204).send(null);
    },
  );
};
