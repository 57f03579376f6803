import type { FastifyInstance } from 'fastify';
import { invalidJson } from './errors.js';
import { ValidationErrors } from '../errors.js';

/**
 * Strings PostgreSQL cannot store (NUL) or that are not Unicode (a lone UTF-16 surrogate, which
 * JSON's \ud800 escapes allow): named in one 422 rather than failing deep in the store.
 */
function checkStrings(value: unknown, path: string, errors: ValidationErrors, depth = 0): void {
  if (depth > 64) {
    errors.add(path || 'base', 'is nested too deeply');
    return;
  }
  if (typeof value === 'string') {
    if (value.includes('\u0000') || !value.isWellFormed()) {
      errors.add(path || 'base', `${path || 'value'}: contains a NUL character or malformed Unicode`);
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => checkStrings(item, `${path}[${index}]`, errors, depth + 1));
    return;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : key;
      checkStrings(key, at, errors, depth + 1);
      checkStrings(item, at, errors, depth + 1);
    }
  }
}

/**
 * Zendesk clients send `Content-Type: application/json` on GETs and bodiless POSTs: an empty body
 * is no body, never a 400. Anything else is parsed with Fastify's own parser (which refuses
 * prototype poisoning) and a parse failure is a Zendesk 400 InvalidJSON. Bodies of other types
 * (text/plain, forms) are refused as InvalidJSON too; multipart is registered by the uploads.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  // Zendesk's PATCH endpoints (webhooks) take JSON merge patches (RFC 7396) by their own type.
  app.addContentTypeParser(['application/json', 'application/merge-patch+json'], { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, {});
    parseJson(request, text, (error, value) => {
      if (error) return done(invalidJson(`The request body is not valid JSON: ${error.message}`), undefined);
      const errors = new ValidationErrors();
      checkStrings(value, '', errors);
      if (!errors.empty) return done(errors.toError(), undefined);
      done(null, value);
    });
  });
}
