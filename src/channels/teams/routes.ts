import type { FastifyPluginAsync } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.js';
import { invalidJson, unauthorized } from '../../http/errors.js';
import { parseBoundedJson } from '../../http/bounded-json.js';
import type { SideConversationCommands } from '../../side-conversations/commands.js';
import { receiveTeamsActivity, type TeamsActivity, type TeamsTokenVerifier } from './receive.js';

/** Activities are small; a verified one is still parsed within these. */
const TEAMS_JSON_LIMITS = { maxBytes: 1024 * 1024, maxDepth: 32 };

/**
 * POST /integrations/teams/messages: the bot's messaging endpoint. The body is kept raw until the
 * Bot Framework token is checked, so a stranger's JSON is never parsed.
 */
export const teamsMessagesRoutes: FastifyPluginAsync<{ db: Kysely<Database>; commands: SideConversationCommands; verifier: TeamsTokenVerifier }> = async (
  app,
  { db, commands, verifier },
) => {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: TEAMS_JSON_LIMITS.maxBytes }, (_request, body, done) => done(null, body));
  app.post('/integrations/teams/messages', { config: { access: 'public' }, schema: { hide: true } }, async (request, reply) => {
    let activity: TeamsActivity = {};
    const parseActivity = (): TeamsActivity => {
      let body: unknown;
      try {
        body = typeof request.body === 'string' && request.body.trim() !== '' ? parseBoundedJson(request.body, TEAMS_JSON_LIMITS) : {};
      } catch (error) {
        throw invalidJson(`The request body is not acceptable JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
      activity = body && typeof body === 'object' && !Array.isArray(body) ? (body as TeamsActivity) : {};
      return activity;
    };
    const bot = await verifier.verify(db, request.headers.authorization, () => parseActivity().serviceUrl);
    if (!bot) {
      request.log.warn('Teams activity with a missing, forged or expired token, or one for another serviceUrl, refused');
      throw unauthorized();
    }
    const outcome = await receiveTeamsActivity(db, commands, bot, activity);
    request.log.info({ app_id: bot.app_id, activity_id: activity.id, outcome }, 'Teams activity');
    return reply.code(200).send({});
  });
};
