import type { FastifyRequest } from 'fastify';
import { parseCookie, stringifySetCookie } from 'cookie';

export const SESSION_COOKIE = 'sideline_session';

/** The session token the browser sent, if any. */
export function sessionTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header || header.length > 8192) return undefined;
  return parseCookie(header)[SESSION_COOKIE];
}

/**
 * HttpOnly so page scripts never see it; SameSite=Lax so other sites' forms and fetches do not carry
 * it on writes; Secure whenever the browser reached us over https (request.protocol honours
 * TRUST_PROXY). No Max-Age: the server decides expiry, the cookie ends with the browser session.
 */
export function sessionCookie(token: string, secure: boolean): string {
  return stringifySetCookie(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', path: '/', secure });
}

export function clearedSessionCookie(secure: boolean): string {
  return stringifySetCookie(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'lax', path: '/', secure, maxAge: 0, expires: new Date(0) });
}
