/**
 * The API client in tests: over Fastify's inject for an app in the test's own process (no socket),
 * and the evidence tests verify merchants with (src/client/admit.ts admits them).
 */
import type { FastifyInstance } from 'fastify';
import type { Evidence } from '../../src/client/types.ts';
import type { Transport } from '../../src/client/transport.ts';

export const TEST_EVIDENCE: Evidence[] = [
  { description: 'publisher reseller letter', sha256: 'ab'.repeat(32) },
];

/** A transport that hands each request to `app.inject`. */
export function injectTransport(app: FastifyInstance): Transport {
  return async ({ method, path, headers, body }) => {
    const res = await app.inject({
      method: method as 'GET',
      url: path,
      headers,
      ...(body !== undefined && { payload: body }),
    });
    const flat: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return { status: res.statusCode, statusText: res.statusMessage, headers: flat, body: res.rawPayload };
  };
}
