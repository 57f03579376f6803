import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountResolver } from '../accounts/accounts.js';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import { sessionTokenOf } from '../sessions/cookie.js';
import { csrfRefused, type ConsoleSession, type ConsoleSessions } from '../sessions/service.js';
import { badRequest, noSuchAccount, unauthorized } from './errors.js';
import { forbidden } from '../errors.js';

/** Who may call a route. Routes declare it in `config.access`; undeclared means agents only. */
export type Access = 'public' | 'any' | 'agent' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** Set when the request was authenticated by the console's session cookie. */
    consoleSession: ConsoleSession | null;
  }
}

/** The authenticated caller of a non-public route. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized();
  return request.principal;
}

/**
 * One Host per request: with two, a proxy and this server may each pick a different one (and so a
 * different account). Node keeps only the first in `headers.host`; the raw list shows them all.
 */
export function registerHostCheck(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    const raw = request.raw.rawHeaders;
    let hosts = 0;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'host') hosts += 1;
    if (hosts > 1) throw badRequest('InvalidHost', 'The request has more than one Host header.');
  });
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A browser's fetch (not a page navigation) or a console request: no Basic challenge for those. */
function fromBrowserScript(request: FastifyRequest, sessionToken: string | undefined): boolean {
  const mode = request.headers['sec-fetch-mode'];
  return sessionToken !== undefined || (typeof mode === 'string' && mode !== 'navigate');
}

export function registerAuth(app: FastifyInstance, accounts: AccountResolver, authenticator: Authenticator, sessions: ConsoleSessions): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('consoleSession', null);
  // onRequest: credentials are checked before the body is even read.
  app.addHook('onRequest', async (request) => {
    if (request.is404) return;
    const access = request.routeOptions.config.access ?? 'agent';
    if (access === 'public') return;
    const accountId = await accounts.resolve(request.headers.host);
    if (accountId === null) throw noSuchAccount();
    const header = request.headers.authorization;
    // An Authorization header always decides (API clients); the cookie only counts without one.
    const sessionToken = header === undefined ? sessionTokenOf(request) : undefined;
    let principal: Principal | null = null;
    if (header !== undefined) principal = await authenticator.authenticate(accountId, header, request.ip);
    if (sessionToken !== undefined) {
      const session = await sessions.authenticate(accountId, sessionToken);
      if (session) {
        // The cookie rides along on any request the browser makes, even one another site starts:
        // a write must also prove it comes from the console's own page.
        if (!SAFE_METHODS.has(request.method) && !sessions.csrfMatches(session, request.headers['x-csrf-token'])) throw csrfRefused();
        request.consoleSession = session;
        principal = session.principal;
      }
    }
    if (!principal) throw unauthorized(!fromBrowserScript(request, sessionToken));
    request.principal = principal;
    if (access === 'agent' && principal.role === 'end-user') throw forbidden();
    if (access === 'admin' && principal.role !== 'admin') throw forbidden();
  });
}
