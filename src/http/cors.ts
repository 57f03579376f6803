import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * CORS for browser-based integrations, off unless CORS_ORIGINS lists origins. A listed origin is
 * echoed back with credentials allowed (a page on it may send cookies or Basic auth); `*` lets any
 * other origin read answers without credentials, since credentials with a wildcard would hand every
 * site on the web the signed-in user's session.
 */
export interface CorsPolicy {
  /** Exact origins (`https://app.example.com`), compared as the browser sends them. */
  origins: ReadonlySet<string>;
  /** `*` was listed: any origin, never with credentials. */
  anyOrigin: boolean;
}

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
const ALLOWED_HEADERS = 'Authorization, Content-Type, X-CSRF-Token, X-Request-Id';
const EXPOSED_HEADERS = 'Retry-After, X-Request-Id, Content-Disposition, Location';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

/** Parses CORS_ORIGINS (comma-separated origins and/or `*`); throws with a message naming the bad entry. */
export function parseCorsOrigins(raw: string | undefined): CorsPolicy | null {
  const entries = (raw ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) return null;
  const origins = new Set<string>();
  let anyOrigin = false;
  for (const entry of entries) {
    if (entry === '*') {
      anyOrigin = true;
      continue;
    }
    let origin: string | null = null;
    try {
      const url = new URL(entry);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin === entry.replace(/\/$/, '')) origin = url.origin;
    } catch {
      origin = null;
    }
    if (!origin) throw new Error(`"${entry}" is not an origin such as https://app.example.com (scheme, host and optional port, no path)`);
    origins.add(origin);
  }
  return { origins, anyOrigin };
}

function addVary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  const list = typeof current === 'string' ? current.split(',').map((v) => v.trim()).filter(Boolean) : [];
  if (!list.some((v) => v.toLowerCase() === field.toLowerCase() || v === '*')) list.push(field);
  reply.header('vary', list.join(', '));
}

/** What Access-Control-Allow-Origin to answer `origin` with, and whether credentials may come with it. */
function decide(policy: CorsPolicy, origin: string): { allowOrigin: string; credentials: boolean } | null {
  if (policy.origins.has(origin)) return { allowOrigin: origin, credentials: true };
  if (policy.anyOrigin) return { allowOrigin: '*', credentials: false };
  return null;
}

function originOf(request: FastifyRequest): string | undefined {
  const origin = request.headers.origin;
  return typeof origin === 'string' && origin !== '' ? origin : undefined;
}

export function registerCors(app: FastifyInstance, policy: CorsPolicy | null): void {
  if (!policy) return;
  // onRequest, registered before authentication: a preflight carries no credentials and must be answered first.
  app.addHook('onRequest', async (request, reply) => {
    const origin = originOf(request);
    const preflight = request.method === 'OPTIONS' && origin !== undefined && request.headers['access-control-request-method'] !== undefined;
    if (!preflight) return;
    addVary(reply, 'Origin');
    const allowed = decide(policy, origin);
    if (!allowed) {
      return reply.code(403).send({ error: 'Forbidden', description: `The origin ${origin} is not in CORS_ORIGINS.` });
    }
    reply.header('access-control-allow-origin', allowed.allowOrigin);
    if (allowed.credentials) reply.header('access-control-allow-credentials', 'true');
    reply.header('access-control-allow-methods', ALLOWED_METHODS);
    reply.header('access-control-allow-headers', ALLOWED_HEADERS);
    reply.header('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS);
    return reply.code(204).send();
  });
  // onSend covers every answer, errors and 404s included, so a browser client can read why it was refused.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) return payload;
    addVary(reply, 'Origin');
    const origin = originOf(request);
    const allowed = origin === undefined ? null : decide(policy, origin);
    if (allowed) {
      reply.header('access-control-allow-origin', allowed.allowOrigin);
      if (allowed.credentials) reply.header('access-control-allow-credentials', 'true');
      reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    }
    return payload;
  });
}
