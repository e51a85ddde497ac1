/**
 * Builds the parts behind the API from a Config: the storage, the chain (embedded development
 * chain or a real one), the lease and the batcher. server.ts runs them; tests build their own.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Batcher } from './batcher/batcher.ts';
import { Lease } from './batcher/lease.ts';
import { bootDevChain } from './batcher/dev-chain-replay.ts';
import { DEV_DEPLOYER_KEY, type DevChain } from './chain/dev-chain.ts';
import {
  chooseFinality,
  describeFinality,
  type FinalityRule,
  type FinalitySetting,
} from './chain/finality.ts';
import { connectRegistry, type AnchorChain } from './chain/registry.ts';
import type { Config } from './config.ts';
import type { Services } from './http/services.ts';
import { createServiceContext } from './service/context.ts';
import { BacklogGauge, backlogRetryAfterSeconds } from './service/backlog.ts';
import { MerchantBacklog } from './service/merchant-backlog.ts';
import { sha256Hex } from './service/random.ts';
import { keyMerchantNames } from './service/merchant-names.ts';
import { DAY_MS } from './service/scans.ts';
import { SERVER_KEY_BYTES, ServerKey } from './service/server-key.ts';
import { sealStoredSalts } from './service/stored-salts.ts';
import { privateDirectory } from './storage/private-files.ts';
import { WebhookWorker } from './service/webhooks/worker.ts';
import { AfterSaleSweeper } from './service/after-sale/sweep.ts';

/** How often deadlines and expiries are looked at: a dispute is decided within this of its deadline. */
const SWEEP_EVERY_MS = 30_000;
import { TreeBuilder } from './service/tree-builder.ts';
import { CreditCache } from './service/merchant-credit.ts';
import { Metrics } from './observability/metrics.ts';
import { openStorage, type SqlStorage } from './storage/sql/open.ts';
import { bundleBrowserCheck } from './http/page/browser-bundle.ts';

export interface Runtime {
  services: Services;
  /** The SQL backend behind services.ctx.storage (its `db` is for tests' inspection only). */
  storage: SqlStorage;
  devChain: DevChain | null;
  /** Delivers webhooks; the server starts it (as it starts the batcher), tests when they need it. */
  webhookWorker: WebhookWorker;
  /** Decides disputes at their deadline and deletes expired sealed secrets; started like the worker. */
  afterSaleSweeper: AfterSaleSweeper;
  close(): Promise<void>;
}

export async function startRuntime(
  config: Config,
  log: Logger,
  now: () => Date = () => new Date(),
): Promise<Runtime> {
  const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  log.info({ database: storage.location, dialect: storage.kind }, 'database ready');
  const lease = new Lease(storage.leases, `${process.pid}-${randomUUID()}`, config.leaseMs);
  let devChain: DevChain | null = null;
  let chain: AnchorChain | undefined;
  let finality: FinalityRule;
  try {
    if (config.chain.kind === 'dev') {
      const booted = await bootDevChain(storage.batches, lease, config.chain.port, log);
      devChain = booted.devChain;
      chain = await connectRegistry({
        rpcUrl: devChain.url,
        contract: booted.contract,
        anchorerKey: DEV_DEPLOYER_KEY,
        pollMs: config.chainPollMs,
        rpcTimeoutMs: config.rpcTimeoutMs,
      });
    } else {
      chain = await connectRegistry({
        rpcUrl: config.chain.rpcUrl,
        contract: config.chain.contract,
        anchorerKey: config.chain.anchorerKey,
        pollMs: config.chainPollMs,
        rpcTimeoutMs: config.rpcTimeoutMs,
      });
    }
    const chosen = await chooseFinality(finalitySetting(config), chain);
    finality = chosen.rule;
    log.info(
      {
        chainId: chain.chainId,
        contract: chain.contract,
        finality: describeFinality(finality),
        why: chosen.why,
      },
      'chain ready',
    );
  } catch (err) {
    chain?.close();
    await devChain?.close();
    await lease.release().catch(() => {});
    await storage.close();
    throw err;
  }

  const keys = serverKey(config, log);
  const ctx = createServiceContext({
    storage,
    keys,
    now,
    publicBaseUrl: config.publicBaseUrl,
    scanWindowMs: config.scanWindowDays * DAY_MS,
    secretGuesses: config.secretGuesses,
    recordLimits: config.recordLimits,
    afterSale: config.afterSale,
    trees: new TreeBuilder(),
    log,
  });
  const sealed = await sealStoredSalts(ctx);
  if (sealed > 0) log.info({ sealed }, 'sealed secret salts stored in the clear by an older version');
  await keyMerchantNames(ctx, log);
  const backlog = new BacklogGauge(storage.events, config.maxPendingEvents, backlogRetryAfterSeconds(config));
  const metrics = new Metrics({
    stores: storage,
    backlog,
    balance: () => chain.balance(),
    abuse: { secrets: ctx.secretAttempts.counters, scans: ctx.scans.tally },
  });
  const batcher = new Batcher({
    ctx,
    metrics,
    chain,
    lease,
    confirmations: finality,
    maxInFlight: config.maxInFlight,
    finalityStallMs: config.finalityStallMs,
    maxLeaves: config.batchMaxLeaves,
    ceilingLeaves: config.batchCeilingLeaves,
    maxAgeMs: config.batchMaxAgeMs,
    tickMs: config.chainPollMs,
    log: log.child({ component: 'batcher' }),
  });
  metrics.readFinalityFrom(() => batcher.status.finalizedHeadAgeSeconds);

  const services: Services = {
    ctx,
    chain,
    batcher,
    log,
    adminTokenHash: sha256Hex(adminToken(config, log)),
    finality,
    metricsTokenHash: config.metricsToken === undefined ? null : sha256Hex(config.metricsToken),
    publicRpcUrl:
      devChain?.url ??
      (config.chain.kind === 'rpc' && config.chain.publishRpcUrl ? config.chain.rpcUrl : null),
    explorerUrl: config.explorerUrl,
    browserCheck: config.publicRpcUrl ? await bundleBrowserCheck(config.publicRpcUrl) : undefined,
    displayTimeZone: config.displayTimeZone,
    credit: new CreditCache(),
    bodyLimitBytes: config.bodyLimitBytes,
    timeouts: config.timeouts,
    trustProxy: config.trustProxy,
    rateLimits: config.rateLimits,
    backlog,
    merchantBacklog: new MerchantBacklog(storage.events, config.maxPendingEventsPerMerchant, () =>
      backlog.pending(),
    ),
    qrRendersPerSecond: config.qrRendersPerSecond,
    webhooks: { allowPrivate: config.webhooks.allowPrivate },
    metrics,
  };
  const webhookWorker = new WebhookWorker({
    ctx,
    ...config.webhooks,
    log: log.child({ component: 'webhooks' }),
  });
  const afterSaleSweeper = new AfterSaleSweeper(ctx, SWEEP_EVERY_MS, log.child({ component: 'after-sale' }));
  return {
    services,
    storage,
    devChain,
    webhookWorker,
    afterSaleSweeper,
    async close() {
      await afterSaleSweeper.stop();
      await webhookWorker.stop();
      await batcher.stop();
      await ctx.trees?.close();
      await ctx.scans.flush();
      chain.close();
      await devChain?.close();
      await storage.close();
    },
  };
}

/** CONFIRMATIONS as the chain module reads it. */
function finalitySetting(config: Config): FinalitySetting {
  switch (config.finality) {
    case 'depth':
      return { kind: 'depth', blocks: config.confirmations };
    case 'auto':
      return { kind: 'tag-or-depth', tag: 'finalized', blocks: config.confirmations };
    default:
      return { kind: 'tag', tag: config.finality };
  }
}

/** ADMIN_TOKEN, or in development one generated once into DATA_DIR/admin-token (mode 0600). */
function adminToken(config: Config, log: Logger): string {
  if (config.adminToken) return config.adminToken;
  privateDirectory(config.dataDir);
  const file = join(config.dataDir, 'admin-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  log.warn({ file }, 'ADMIN_TOKEN is not set: generated one for development; read it from this file');
  return token;
}

/**
 * SECRET_KEY, or in development one generated once into DATA_DIR/secret-key (mode 0600). It never
 * enters the database: back it up apart from it.
 */
function serverKey(config: Config, log: Logger): ServerKey {
  if (config.secretKey) return ServerKey.fromBytes(config.secretKey);
  privateDirectory(config.dataDir);
  const file = join(config.dataDir, 'secret-key');
  if (existsSync(file)) {
    const bytes = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (bytes.length !== SERVER_KEY_BYTES) throw new Error(`${file} does not hold a 32-byte hex key`);
    return ServerKey.fromBytes(bytes);
  }
  const key = randomBytes(SERVER_KEY_BYTES);
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  log.warn(
    { file },
    'SECRET_KEY is not set: generated one for development; back this file up apart from the database',
  );
  return ServerKey.fromBytes(key);
}
