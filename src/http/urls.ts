import type { FastifyRequest } from 'fastify';

/** A host name or IPv4/IPv6 literal, with an optional port: nothing else may reach a `url` field. */
const HOST_WITH_PORT = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The base the client used (scheme, host, port), for `url` and `next_page` fields, or PUBLIC_URL
 * when the operator set one. With a trusted proxy the scheme and host come from X-Forwarded-*
 * headers, which are client text: only `http`/`https` and a plain host[:port] are taken from them;
 * anything else falls back to what the connection itself says.
 */
export function baseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl;
  const forwardedProto = request.protocol.toLowerCase();
  const protocol = forwardedProto === 'http' || forwardedProto === 'https' ? forwardedProto : socketProtocol(request);
  const host = request.host;
  const safeHost = HOST_WITH_PORT.test(host) ? host : HOST_WITH_PORT.test(request.headers.host ?? '') ? request.headers.host! : 'localhost';
  return `${protocol}://${safeHost}`;
}

function socketProtocol(request: FastifyRequest): 'http' | 'https' {
  return (request.raw.socket as { encrypted?: boolean } | null)?.encrypted ? 'https' : 'http';
}
