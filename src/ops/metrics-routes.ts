import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../http/errors.js';
import type { Metrics } from './metrics.js';

export interface MetricsEndpoint {
  metrics: Metrics;
  /** METRICS_TOKEN: a scrape must send `Authorization: Bearer <token>`. */
  token: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

const metricsUnauthorized = () =>
  new ApiError(401, { error: "Couldn't authenticate you" }, { 'www-authenticate': 'Bearer realm="metrics"' });

/**
 * Counts every answered request by its route pattern (so ticket ids never become label values),
 * and serves GET /metrics to a scraper holding the token. Called on the root instance, before the
 * routes, so the hook sees every route and the not-found handler.
 */
export function registerMetrics(app: FastifyInstance, { metrics, token }: MetricsEndpoint): void {
  const expected = digest(token);
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.method, request.is404 ? null : (request.routeOptions.url ?? null), reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get(
    '/metrics',
    { config: { access: 'public' }, schema: { tags: ['Operations'], summary: 'Prometheus metrics (Authorization: Bearer METRICS_TOKEN)' } },
    async (request, reply) => {
      const presented = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      // Compared as digests, so neither the length nor the bytes of the token leak through timing.
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) throw metricsUnauthorized();
      const text = await metrics.scrape();
      return reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store').send(text);
    },
  );
}
