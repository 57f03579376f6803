import type { FastifyPluginAsync } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import { unauthorized } from '../../http/errors.js';
import { receiveTeamsActivity, type TeamsActivity, type TeamsTokenVerifier } from './receive.js';

/** POST /integrations/teams/messages: the bot's messaging endpoint. */
export const teamsMessagesRoutes: FastifyPluginAsync<{ db: Kysely<Database>; verifier: TeamsTokenVerifier }> = async (app, { db, verifier }) => {
  app.post('/integrations/teams/messages', { config: { access: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const body: unknown = request.body;
    const activity: TeamsActivity = body && typeof body === 'object' && !Array.isArray(body) ? (body as TeamsActivity) : {};
    const bot = await verifier.verify(db, request.headers.authorization, activity.serviceUrl);
    if (!bot) {
      request.log.warn('Teams activity with a missing, forged or expired token, or one for another serviceUrl, refused');
      throw unauthorized();
    }
    const outcome = await receiveTeamsActivity(db, bot, activity);
    request.log.info({ app_id: bot.app_id, activity_id: activity.id, outcome }, 'Teams activity');
    return reply.code(200).send({});
  });
};
