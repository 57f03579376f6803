import type { FastifyInstance } from 'fastify';
import { invalidJson } from './errors.js';

/**
 * Zendesk clients send `Content-Type: application/json` on GETs and bodiless POSTs: an empty body
 * is no body, never a 400. Anything else is parsed with Fastify's own parser (which refuses
 * prototype poisoning) and a parse failure is a Zendesk 400 InvalidJSON.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, {});
    parseJson(request, text, (error, value) => {
      if (error) return done(invalidJson(`The request body is not valid JSON: ${error.message}`), undefined);
      done(null, value);
    });
  });
}
