import type { FastifyInstance } from 'fastify';
import swaggerUi from '@fastify/swagger-ui';

/** Where the human-readable API reference is served (Swagger UI over /api/v2/openapi.json's document). */
export const DOCS_PREFIX = '/api/v2/docs';

/**
 * Everything the page loads comes from this server: the UI's files are those of the npm package, the
 * online validator badge is off (it would send the document to validator.swagger.io), and the CSP
 * says so to the browser too.
 */
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/** The reference page is public, like the OpenAPI document it renders. */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  // A scope of its own, so the hook marks only the UI's routes public.
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      if (route.url.startsWith(DOCS_PREFIX)) route.config = { ...(route.config ?? {}), access: 'public' };
    });
    await scope.register(swaggerUi, {
      routePrefix: DOCS_PREFIX,
      staticCSP: DOCS_CSP,
      uiConfig: { validatorUrl: null, deepLinking: true, displayRequestDuration: true, defaultModelsExpandDepth: 0 },
      theme: { title: 'Sideline API reference' },
    });
  });
}

/**
 * A route schema with examples for the reference page, leaving the shared schema object untouched
 * (the same schema serves several routes whose examples differ).
 */
export function withExamples<T extends object>(schema: T, ...examples: unknown[]): T {
  return { ...schema, examples };
}
