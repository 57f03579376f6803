import type { FastifyPluginAsync } from 'fastify';
import { unauthorized } from '../../http/errors.js';
import { authenticSlackWorkspace, receiveSlackEvent, type SlackEventEnvelope, type SlackInboundDeps } from './receive.js';

/**
 * POST /integrations/slack/events: Slack's Events API. The body must be read raw, since the
 * signature covers its exact bytes; this plugin keeps its own JSON parser for that.
 */
export const slackEventsRoutes: FastifyPluginAsync<{ deps: SlackInboundDeps }> = async (app, { deps }) => {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_request, body, done) => done(null, body));

  app.post('/integrations/slack/events', { config: { access: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const raw = typeof request.body === 'string' ? request.body : '';
    const timestamp = String(request.headers['x-slack-request-timestamp'] ?? '');
    const signature = String(request.headers['x-slack-signature'] ?? '');
    let envelope: SlackEventEnvelope;
    try {
      envelope = JSON.parse(raw) as SlackEventEnvelope;
    } catch {
      throw unauthorized();
    }
    if (!envelope || typeof envelope !== 'object') throw unauthorized();
    const workspace = signature && timestamp ? await authenticSlackWorkspace(deps, envelope, raw, timestamp, signature) : null;
    if (!workspace) {
      request.log.warn({ team_id: typeof envelope.team_id === 'string' ? envelope.team_id : undefined }, 'Slack request with a missing, stale or forged signature refused');
      throw unauthorized();
    }
    if (envelope.type === 'url_verification') return reply.send({ challenge: String(envelope.challenge ?? '') });
    const outcome = await receiveSlackEvent(deps, workspace, envelope);
    request.log.info({ team_id: workspace.team_id, event_id: envelope.event_id, outcome }, 'Slack event');
    return reply.send({ ok: true });
  });
};
