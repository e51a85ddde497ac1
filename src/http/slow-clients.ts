/**
 * Slow and fat requests. Node's http server enforces a time limit on each phase of a request (the
 * settings are in Config.timeouts, the numbers in README), and a request the app refuses before
 * reading its body (no key, no budget, a full backlog, no such route) is answered and its connection
 * closed, so the server neither buffers nor drains a body it will not use.
 *
 * What each limit bounds (Node 20, lib/_http_server.js):
 * - headersTimeout: from the request's first byte to the end of its headers (408);
 * - requestTimeout: from the first byte to the last byte of the body (408). Both are checked every
 *   connectionsCheckingInterval, so a request is cut within that much past its limit;
 * - server.timeout (Fastify's connectionTimeout): no byte either way on the socket for that long,
 *   while a request is read, handled or answered: the socket is destroyed (no answer);
 * - keepAliveTimeout: an idle connection between two requests is closed.
 */
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { HttpTimeouts } from '../config.ts';

/** How often Node checks the headers and request limits (its default, 30 s, would quadruple them). */
export const TIMEOUT_CHECK_MS = 1000;

/** Fastify's options for the limits above. */
export function serverTimeouts(t: HttpTimeouts): Pick<
  FastifyServerOptions,
  'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout'
> & {
  http: { headersTimeout: number; connectionsCheckingInterval: number };
} {
  return {
    requestTimeout: t.requestMs,
    connectionTimeout: t.idleMs,
    keepAliveTimeout: t.keepAliveMs,
    http: { headersTimeout: t.headersMs, connectionsCheckingInterval: TIMEOUT_CHECK_MS },
  };
}

/**
 * Answers sent while the request's body is still arriving close the connection: Node would
 * otherwise read and discard the rest of the body to keep the connection alive, for as long as the
 * client cares to send it. (Injected test requests have no `complete` and are left alone.)
 */
export function closeAfterUnreadBodies(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply) => {
    if (request.raw.complete === false) reply.header('connection', 'close');
  });
}
