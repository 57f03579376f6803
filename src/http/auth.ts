import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountResolver } from '../accounts/accounts.js';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import { badRequest, forbidden, noSuchAccount, unauthorized } from './errors.js';

/** Who may call a route. Routes declare it in `config.access`; undeclared means agents only. */
export type Access = 'public' | 'any' | 'agent' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal | null;
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

export function registerAuth(app: FastifyInstance, accounts: AccountResolver, authenticator: Authenticator): void {
  app.decorateRequest('principal', null);
  // onRequest: credentials are checked before the body is even read.
  app.addHook('onRequest', async (request) => {
    if (request.is404) return;
    const access = request.routeOptions.config.access ?? 'agent';
    if (access === 'public') return;
    const accountId = await accounts.resolve(request.headers.host);
    if (accountId === null) throw noSuchAccount();
    const principal = await authenticator.authenticate(accountId, request.headers.authorization, request.ip);
    if (!principal) throw unauthorized();
    request.principal = principal;
    if (access === 'agent' && principal.role === 'end-user') throw forbidden();
    if (access === 'admin' && principal.role !== 'admin') throw forbidden();
  });
}
