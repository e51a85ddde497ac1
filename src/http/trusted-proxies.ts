/**
 * Which address a request comes from, for the per-client rate limits: the socket's, or the client's
 * as trusted proxies report it in X-Forwarded-For. Proxies append the address they saw, so the
 * client is read from the right: past the trusted hops, the first address is the client's. Anything
 * further left was written by the client and is never used.
 */
import type { FastifyServerOptions } from 'fastify';
import type { TrustProxy } from '../config.ts';

/**
 * Fastify's trustProxy for TRUST_PROXY. A number of hops becomes a function (Fastify 5 takes no hop
 * count: it fails closed on one): the socket's peer and the entries to its left are proxies up to
 * `hops` of them. Lists of addresses and CIDRs, and true or false, go through as they are.
 */
export function trustProxyOption(setting: TrustProxy): FastifyServerOptions['trustProxy'] {
  if (typeof setting !== 'number') return setting;
  const hops = setting;
  return (_address: string, hop: number) => hop < hops;
}
