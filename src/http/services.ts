/** What the routes use, decorated onto the Fastify instance so tests can build an app around their own. */
import type { Logger } from 'pino';
import type { Batcher } from '../batcher/batcher.ts';
import type { AnchorChain } from '../chain/registry.ts';
import type { ServiceContext } from '../service/context.ts';
import type { Merchant } from '../service/merchants.ts';

export interface Services {
  ctx: ServiceContext;
  chain: AnchorChain;
  batcher: Batcher;
  log: Logger;
  /** sha256 of ADMIN_TOKEN; the token itself is not kept. */
  adminTokenHash: string;
  confirmations: number;
  /** Published in /v1/chain: the development chain's URL, or null for a private RPC. */
  publicRpcUrl: string | null;
  explorerUrl: string | undefined;
  bodyLimitBytes: number;
  /** Whether X-Forwarded-For decides the client IP (rate limits); only behind a trusted proxy. */
  trustProxy: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
  interface FastifyRequest {
    merchant: Merchant | null;
  }
}
