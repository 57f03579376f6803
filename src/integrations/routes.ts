import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../app-context.js';
import type { SlackWorkspace, TeamsBot } from '../db/types.js';
import { principalOf } from '../http/auth.js';
import { notFound } from '../errors.js';
import { withExamples } from '../http/docs.js';
import { ErrorResponses } from '../http/schemas.js';
import { integrationExamples as ex } from './examples.js';
import { isoSeconds } from '../http/time.js';

const SlackWorkspaceSchema = Type.Object({
  id: Type.Integer(),
  team_id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
});
const TeamsBotSchema = Type.Object({
  id: Type.Integer(),
  app_id: Type.String(),
  tenant_id: Type.String(),
  service_url: Type.String(),
  created_at: Type.String(),
});

/** Secrets are never presented: only what identifies the connection. */
const presentSlack = (w: SlackWorkspace) => ({ id: w.id, team_id: w.team_id, name: w.name, created_at: isoSeconds(w.created_at) });
const presentTeams = (b: TeamsBot) => ({ id: b.id, app_id: b.app_id, tenant_id: b.tenant_id, service_url: b.service_url, created_at: isoSeconds(b.created_at) });

export const integrationsRoutes: FastifyPluginAsyncTypebox<{ ctx: AppContext }> = async (app, { ctx }) => {
  const { integrations } = ctx.services;
  const admin = { access: 'admin' as const };

  app.post(
    '/api/v2/sideline/integrations/slack',
    {
      config: admin,
      schema: {
        tags: ['Integrations'],
        summary: 'Connect a Slack workspace (admins); connecting it again replaces its secrets',
        body: withExamples(
          Type.Object({
            slack_workspace: Type.Object({
              team_id: Type.String({ maxLength: 32 }),
              bot_token: Type.String({ maxLength: 1024 }),
              signing_secret: Type.String({ maxLength: 1024 }),
              name: Type.Optional(Type.String({ maxLength: 255 })),
            }),
          }),
          ex.connectSlackBody,
        ),
        response: { 201: withExamples(Type.Object({ slack_workspace: SlackWorkspaceSchema }), ex.connectSlackResponse), ...ErrorResponses },
      },
    },
    async (request, reply) => {
      const workspace = await integrations.connectSlack(principalOf(request).accountId, request.body.slack_workspace);
      return reply.code(201).send({ slack_workspace: presentSlack(workspace) });
    },
  );

  app.get(
    '/api/v2/sideline/integrations/slack',
    {
      config: admin,
      schema: { tags: ['Integrations'], summary: 'Connected Slack workspaces', response: { 200: withExamples(Type.Object({ slack_workspaces: Type.Array(SlackWorkspaceSchema) }), ex.listSlackResponse), ...ErrorResponses } },
    },
    async (request) => ({ slack_workspaces: (await integrations.listSlack(principalOf(request).accountId)).map(presentSlack) }),
  );

  app.delete(
    '/api/v2/sideline/integrations/slack/:team_id',
    {
      config: admin,
      schema: { tags: ['Integrations'], summary: 'Disconnect a Slack workspace', params: Type.Object({ team_id: Type.String({ maxLength: 32 }) }), response: { 204: Type.Null(), ...ErrorResponses } },
    },
    async (request, reply) => {
      await integrations.disconnectSlack(principalOf(request).accountId, request.params.team_id);
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/api/v2/sideline/integrations/teams',
    {
      config: admin,
      schema: {
        tags: ['Integrations'],
        summary: 'Connect the Microsoft Teams bot of the account (admins)',
        body: withExamples(
          Type.Object({
            teams_bot: Type.Object({
              app_id: Type.String({ maxLength: 256 }),
              app_password: Type.String({ maxLength: 1024 }),
              tenant_id: Type.String({ maxLength: 256 }),
              service_url: Type.String({ maxLength: 2048 }),
            }),
          }),
          ex.connectTeamsBody,
        ),
        response: { 200: withExamples(Type.Object({ teams_bot: TeamsBotSchema }), ex.teamsResponse), ...ErrorResponses },
      },
    },
    async (request) => ({ teams_bot: presentTeams(await integrations.connectTeams(principalOf(request).accountId, request.body.teams_bot)) }),
  );

  app.get(
    '/api/v2/sideline/integrations/teams',
    { config: admin, schema: { tags: ['Integrations'], summary: 'The connected Teams bot', response: { 200: withExamples(Type.Object({ teams_bot: TeamsBotSchema }), ex.teamsResponse), ...ErrorResponses } } },
    async (request) => {
      const bot = await integrations.getTeams(principalOf(request).accountId);
      if (!bot) throw notFound();
      return { teams_bot: presentTeams(bot) };
    },
  );

  app.delete(
    '/api/v2/sideline/integrations/teams',
    { config: admin, schema: { tags: ['Integrations'], summary: 'Disconnect the Teams bot', response: { 204: Type.Null(), ...ErrorResponses } } },
    async (request, reply) => {
      await integrations.disconnectTeams(principalOf(request).accountId);
      return reply.code(204).send(null);
    },
  );
};
