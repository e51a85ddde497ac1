/**
 * Composes the HTTP API: OpenAPI, the error handler, rate limits and the routes. The services come
 * in ready-made, so tests build the same app around their own database and chain.
 */
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { noStoreByDefault } from './cache-control.ts';
import { clientGroup } from './client-address.ts';
import { clientErrorHandler, ErrorResponse, frameworkErrors, installErrorHandling } from './errors.ts';
import { installStrictJsonParser } from './json-body.ts';
import { closeAfterUnreadBodies, serverTimeouts } from './slow-clients.ts';
import { trustProxyOption } from './trusted-proxies.ts';
import type { LimitHooks, Services } from './services.ts';
import { healthRoutes } from './routes/health.ts';
import { merchantRoutes } from './routes/merchants.ts';
import { recordRoutes } from './routes/records.ts';
import { verifyRoutes } from './routes/verify.ts';
import { batchRoutes } from './routes/batches.ts';
import { qrRoutes } from './routes/qr.ts';
import { pageRoutes } from './routes/page.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { duplicateRoutes } from './routes/duplicates.ts';
import { disputeRoutes } from './routes/disputes.ts';

export async function buildApp(
  services: Services,
  opts: { logger?: FastifyServerOptions['loggerInstance'] } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: services.bodyLimitBytes,
    ...serverTimeouts(services.timeouts),
    trustProxy: trustProxyOption(services.trustProxy),
    frameworkErrors,
    clientErrorHandler,
    ajv: {
      // Reject unknown fields and wrong types instead of silently dropping or coercing them.
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('services', services);
  app.decorateRequest('merchant', null);
  app.addSchema(ErrorResponse);
  installErrorHandling(app);
  installStrictJsonParser(app);
  closeAfterUnreadBodies(app);
  noStoreByDefault(app);
  // Labelled by the route's pattern, never the raw URL (ids would make every request a new series).
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    services.metrics.requestServed(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'proofmark',
        version: '1',
        description:
          'Provenance for digital goods: merchants register items and lifecycle events; batches are anchored on an EVM chain; ' +
          'consumers and auditors verify. Proof format: docs/proof-format.md.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(rateLimit, { global: false });
  app.decorate('limits', sharedLimits(app, services.rateLimits));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes);
  await app.register(merchantRoutes);
  await app.register(recordRoutes);
  await app.register(verifyRoutes);
  await app.register(batchRoutes);
  await app.register(qrRoutes);
  await app.register(pageRoutes);
  await app.register(webhookRoutes);
  await app.register(metricsRoutes);
  await app.register(duplicateRoutes);
  await app.register(disputeRoutes);
  return app;
}

/**
 * Limits whose budget spans several routes: one hook instance, one store, so a client cannot double
 * its budget by switching routes. All run before the body is read (the routes use them as
 * onRequest). Verdicts are counted per client IP; the merchant limit runs after requireMerchant,
 * keyed by the authenticated merchant, so requests refused at authentication spend no merchant's
 * budget. The secret checks keep a budget per route (config.rateLimit on each). All of it is per
 * instance, and per address group (an IPv6 client's /64: client-address.ts); the secret checks'
 * budget per record, across instances, is the service's (service/secret-attempts.ts).
 */
function sharedLimits(app: FastifyInstance, limits: Services['rateLimits']): FastifyInstance['limits'] {
  const perMinute = (max: number, keyGenerator?: (request: FastifyRequest) => string): LimitHooks =>
    max === 0 ? [] : [app.rateLimit({ max, timeWindow: 60_000, ...(keyGenerator && { keyGenerator }) })];
  return {
    verdict: perMinute(limits.verifyPerMinute, clientGroup),
    merchant: perMinute(
      limits.merchantPerMinute,
      (request) => `merchant:${request.merchant?.id ?? request.ip}`,
    ),
  };
}
