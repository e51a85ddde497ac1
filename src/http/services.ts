/** What the routes use, decorated onto the Fastify instance so tests can build an app around their own. */
import type { preHandlerAsyncHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { Batcher } from '../batcher/batcher.ts';
import type { FinalityRule } from '../chain/finality.ts';
import type { AnchorChain } from '../chain/registry.ts';
import type { Config, HttpTimeouts, TrustProxy } from '../config.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { BrowserCheck } from './page/browser-bundle.ts';
import type { BacklogGauge } from '../service/backlog.ts';
import type { ServiceContext } from '../service/context.ts';
import type { MerchantBacklog } from '../service/merchant-backlog.ts';
import type { CreditCache } from '../service/merchant-credit.ts';
import type { Merchant } from '../service/merchants.ts';
import type { WebhookSettings } from '../service/webhooks/endpoints.ts';

export interface Services {
  ctx: ServiceContext;
  chain: AnchorChain;
  batcher: Batcher;
  log: Logger;
  /** sha256 of ADMIN_TOKEN; the token itself is not kept. */
  adminTokenHash: string;
  /** When an anchor is final (CONFIRMATIONS, as chosen at start): POST /v1/verify holds bundles to it. */
  finality: FinalityRule;
  /** sha256 of METRICS_TOKEN (opens GET /metrics only), or null when unset. */
  metricsTokenHash: string | null;
  /** Published in /v1/chain: the development chain's URL, or null for a private RPC. */
  publicRpcUrl: string | null;
  explorerUrl: string | undefined;
  /** The page's in-browser chain check (PUBLIC_RPC_URL set); absent, the page has no script. */
  browserCheck?: BrowserCheck | undefined;
  /** The IANA zone the pages show times in (DISPLAY_TIME_ZONE). */
  displayTimeZone: string;
  /** Merchants' credit records, each computed at most once a minute (profile route and page). */
  credit: CreditCache;
  bodyLimitBytes: number;
  /** How long each phase of a request may take (Node's http server enforces them). */
  timeouts: HttpTimeouts;
  /** Which proxies' X-Forwarded-For entries decide the client IP (rate limits); see Config. */
  trustProxy: TrustProxy;
  /** Requests a minute per client IP or per merchant; see Config. */
  rateLimits: Config['rateLimits'];
  /** Refuses writes while too many events wait for anchoring. */
  backlog: BacklogGauge;
  /** Refuses a merchant's writes while too many of its own events wait (same Retry-After). */
  merchantBacklog: MerchantBacklog;
  /** QR codes rendered a second, over both formats (cached codes do not count). */
  qrRendersPerSecond: number;
  /** Where webhook endpoints may point (WEBHOOK_ALLOW_PRIVATE). */
  webhooks: WebhookSettings;
  /** Every metric GET /metrics exports; the app counts each response into it. */
  metrics: Metrics;
}

/** Route hooks (onRequest or preHandler) that answer 429 rate_limited past a budget. */
export type LimitHooks = preHandlerAsyncHookHandler[];

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    /** Shared rate-limit hooks (one budget per key across their routes); empty when a limit is 0. */
    limits: { verdict: LimitHooks; merchant: LimitHooks };
  }
  interface FastifyRequest {
    merchant: Merchant | null;
  }
}
