/**
 * Limits on the sockets of the HTTP server, so slow or numerous clients cannot hold the process:
 * a deadline for a request's headers and for the whole request (a body trickled a byte at a time
 * ends there), an idle deadline for kept-alive sockets, and caps on open connections per client
 * address and in total. The per-address cap is what keeps /healthz answering for everyone else.
 */
import type { ServerOptions } from 'node:http';
import type { Server, Socket } from 'node:net';

export interface ConnectionLimits {
  /** The whole request (headers and body) must arrive within this (REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** The headers must arrive within this; never more than requestTimeoutMs. */
  headersTimeoutMs: number;
  /** Open connections from one client address (MAX_CONNECTIONS_PER_CLIENT); 0 = no cap. */
  maxPerClient: number;
  /** Open connections in all (MAX_CONNECTIONS); 0 = no cap. */
  maxTotal: number;
}

/** An idle kept-alive socket is closed after this. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** Fastify's server options for the deadlines (Fastify sets requestTimeout and keepAliveTimeout itself). */
export function serverTimeoutOptions(limits: ConnectionLimits): { requestTimeout: number; keepAliveTimeout: number; http: ServerOptions } {
  return {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      // Node checks both deadlines only this often (30 s by default): check every second.
      connectionsCheckingInterval: 1_000,
    },
  };
}

/** Counts sockets per remote address and drops those over the caps before any byte is read. */
export function capConnections(server: Server, limits: ConnectionLimits): { openFor(address: string): number } {
  const open = new Map<string, number>();
  if (limits.maxTotal > 0) server.maxConnections = limits.maxTotal;
  if (limits.maxPerClient > 0) {
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? 'unknown';
      const count = (open.get(address) ?? 0) + 1;
      if (count > limits.maxPerClient) {
        socket.destroy();
        return;
      }
      open.set(address, count);
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1;
        if (left <= 0) open.delete(address);
        else open.set(address, left);
      });
    });
  }
  return { openFor: (address) => open.get(address) ?? 0 };
}
