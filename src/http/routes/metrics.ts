/**
 * GET /metrics: every metric of src/observability/metrics.ts in Prometheus text format. Not public:
 * the backlog, the anchorer's balance and the error rates tell an attacker when to strike, so it
 * takes the admin token or, better for a scraper, METRICS_TOKEN, which opens nothing else.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireMetricsReader } from '../auth.ts';

export const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/metrics',
    {
      preHandler: requireMetricsReader,
      // For Prometheus, not part of the API: documented in docs/operations.md, not in /openapi.json.
      schema: { hide: true },
    },
    async (_request, reply) => {
      const { metrics } = app.services;
      reply.type(metrics.contentType);
      return metrics.text();
    },
  );
};
