import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type HTTPMethods } from 'fastify';

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

/** What a browser's request for a page file carries that the answer depends on. */
const FORWARDED_HEADERS = ['accept', 'accept-encoding', 'if-none-match', 'if-modified-since', 'range'] as const;

/** Hop-by-hop, or set again by the server that answers. */
const DROPPED_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length']);

/**
 * The Swagger UI, in a Fastify instance of its own built on the first request for the page: its
 * plugin reads and routes the UI's hundred-odd files, which took 0.15–0.2 s of every start. It
 * renders the document the API app makes (`document`, read once then).
 */
async function buildDocsApp(document: () => unknown): Promise<FastifyInstance> {
  const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([import('@fastify/swagger'), import('@fastify/swagger-ui')]);
  const docs = Fastify({ logger: false });
  await docs.register(swagger, { mode: 'static', specification: { document: document() as never } });
  await docs.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: DOCS_CSP,
    uiConfig: { validatorUrl: null, deepLinking: true, displayRequestDuration: true, defaultModelsExpandDepth: 0 },
    theme: { title: 'Sideline API reference' },
  });
  await docs.ready();
  return docs;
}

/** The reference page is public, like the OpenAPI document it renders. */
export function registerDocs(app: FastifyInstance, document: () => unknown): void {
  let docs: Promise<FastifyInstance> | undefined;
  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!docs) {
      docs = buildDocsApp(document);
      docs.catch(() => (docs = undefined)); // built again on the next request
    }
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answer = await (await docs).inject({ method: request.method as HTTPMethods, url: request.url, headers });
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !DROPPED_HEADERS.has(name)) reply.header(name, value);
    }
    return reply.code(answer.statusCode).send(request.method === 'HEAD' ? undefined : answer.rawPayload);
  };
  const options = { config: { access: 'public' as const }, schema: { hide: true } };
  app.get(DOCS_PREFIX, options, forward);
  app.get(`${DOCS_PREFIX}/*`, options, forward);
}

/**
 * A route schema with examples for the reference page, leaving the shared schema object untouched
 * (the same schema serves several routes whose examples differ).
 */
export function withExamples<T extends object>(schema: T, ...examples: unknown[]): T {
  return { ...schema, examples };
}
