import type { FastifyRequest } from 'fastify';

/**
 * The base the client used (scheme, host, port), for `url` and `next_page` fields, or PUBLIC_URL
 * when the operator set one. Hosts are checked so a forged Host header cannot inject markup.
 */
export function baseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl;
  const host = request.host;
  const safeHost = /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? host : 'localhost';
  return `${request.protocol}://${safeHost}`;
}
