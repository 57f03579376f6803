import type { FastifyPluginAsync } from 'fastify';
import { invalidJson, unauthorized } from '../../http/errors.js';
import { parseBoundedJson } from '../../http/bounded-json.js';
import { authenticSlackWorkspace, receiveSlackEvent, type SlackEventEnvelope, type SlackInboundDeps } from './receive.js';

/**
 * POST /integrations/slack/events: Slack's Events API. The body must be read raw, since the
 * signature covers its exact bytes; this plugin keeps its own JSON parser for that.
 */
/** Slack's events are small; a signed body is still parsed within these. */
const SLACK_JSON_LIMITS = { maxBytes: 1024 * 1024, maxDepth: 32 };

export const slackEventsRoutes: FastifyPluginAsync<{ deps: SlackInboundDeps }> = async (app, { deps }) => {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_request, body, done) => done(null, body));

  app.post('/integrations/slack/events', { config: { access: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const raw = typeof request.body === 'string' ? request.body : '';
    const timestamp = String(request.headers['x-slack-request-timestamp'] ?? '');
    const signature = String(request.headers['x-slack-signature'] ?? '');
    // The signature covers the raw bytes: check it before parsing anything a stranger sent.
    const workspace = signature && timestamp ? await authenticSlackWorkspace(deps, raw, timestamp, signature) : null;
    if (!workspace) {
      request.log.warn('Slack request with a missing, stale or forged signature refused');
      throw unauthorized();
    }
    let envelope: SlackEventEnvelope;
    try {
      envelope = parseBoundedJson(raw, SLACK_JSON_LIMITS) as SlackEventEnvelope;
    } catch (error) {
      throw invalidJson(`The request body is not acceptable JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!envelope || typeof envelope !== 'object') throw invalidJson('The request body must be a JSON object');
    if (envelope.type !== 'url_verification' && envelope.team_id !== workspace.team_id) throw unauthorized();
    if (envelope.type === 'url_verification') return reply.send({ challenge: String(envelope.challenge ?? '') });
    const outcome = await receiveSlackEvent(deps, workspace, envelope);
    request.log.info({ team_id: workspace.team_id, event_id: envelope.event_id, outcome }, 'Slack event');
    return reply.send({ ok: true });
  });
};
