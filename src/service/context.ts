/**
 * What every service function needs: the stores, the clock, the server key and the secret checks'
 * budget, where the pages live, how much a record may hold.
 */
import pino, { type Logger } from 'pino';
import type { Storage } from '../storage/storage.ts';
import { ProofCache } from './proof-cache.ts';
import { DAY_MS, ScanCounter } from './scans.ts';
import { SecretAttempts, type SecretGuessPolicy } from './secret-attempts.ts';
import type { ServerKey } from './server-key.ts';
import type { TreeBuilder } from './tree-builder.ts';

export interface ServiceContext {
  storage: Storage;
  now(): Date;
  /** PUBLIC_BASE_URL without a trailing slash; QR codes and verifyUrl point under it. */
  publicBaseUrl: string;
  scans: ScanCounter;
  /** Proofs of final batches; without it every proof is read from the store. */
  proofCache?: ProofCache;
  /** The server-side key (SECRET_KEY): never stored, so a database copy alone reveals no secret. */
  keys: ServerKey;
  /** Wrong secrets per record and window, counted in the database across instances. */
  secretAttempts: SecretAttempts;
  /** What one record may hold, so no record grows into a page or a verdict that stalls the server. */
  recordLimits: RecordLimits;
  /** Builds large batch trees in a worker thread; without it every tree is built inline. */
  trees?: TreeBuilder;
  /**
   * Benchmarks only (bench/cases/uniqueness.ts measures what the index costs): registration keeps no
   * unique keys and refuses no duplicate. Never set by the runtime.
   */
  withoutUniqueKeys?: true;
  /** SEALED_DELIVERY_TTL_HOURS and DISPUTE_RESPONSE_HOURS. */
  afterSale: AfterSaleSettings;
}

export interface AfterSaleSettings {
  /** How long a sealed delivery's secret is kept from the sale (revealed or not); then it is deleted. */
  sealedTtlMs: number;
  /** How long a merchant has to answer a dispute before it is decided for the buyer. */
  disputeResponseMs: number;
}

/** MAX_EVENTS_PER_RECORD and MAX_EVENT_DATA_BYTES. */
export interface RecordLimits {
  /** Events one record may hold, its issuance included. */
  maxEvents: number;
  /** Bytes of one event's `data` as canonical JSON (UTF-8). */
  maxEventDataBytes: number;
}

/** The defaults of the settings behind a context (README's configuration table). */
export const CONTEXT_DEFAULTS = {
  publicBaseUrl: 'http://127.0.0.1:8080',
  scanWindowMs: 30 * DAY_MS,
  secretGuesses: { limit: 5, windowMs: 3_600_000 } satisfies SecretGuessPolicy,
  recordLimits: { maxEvents: 200, maxEventDataBytes: 2048 } satisfies RecordLimits,
  afterSale: { sealedTtlMs: 72 * 3_600_000, disputeResponseMs: 24 * 3_600_000 } satisfies AfterSaleSettings,
};

/**
 * The one way to build a ServiceContext: the runtime passes its configuration, tests and benchmarks
 * take the defaults for what they do not care about.
 */
export function createServiceContext(opts: {
  storage: Storage;
  keys: ServerKey;
  now?: () => Date;
  publicBaseUrl?: string;
  scanWindowMs?: number;
  /** How often scan counts are written behind (default 1 s). */
  scanFlushMs?: number;
  secretGuesses?: SecretGuessPolicy;
  recordLimits?: RecordLimits;
  afterSale?: AfterSaleSettings;
  /** Keep proofs of final batches in memory (default true). */
  proofCache?: boolean;
  /** Build large trees in a worker thread (the runtime does; default: inline). */
  trees?: TreeBuilder;
  log?: Logger;
}): ServiceContext {
  const now = opts.now ?? (() => new Date());
  const log = opts.log ?? pino({ level: 'silent' });
  return {
    storage: opts.storage,
    now,
    publicBaseUrl: opts.publicBaseUrl ?? CONTEXT_DEFAULTS.publicBaseUrl,
    scans: new ScanCounter(opts.storage.scans, {
      keys: opts.keys,
      windowMs: opts.scanWindowMs ?? CONTEXT_DEFAULTS.scanWindowMs,
      ...(opts.scanFlushMs !== undefined && { flushMs: opts.scanFlushMs }),
    }),
    ...(opts.proofCache !== false && { proofCache: new ProofCache() }),
    keys: opts.keys,
    secretAttempts: new SecretAttempts(
      opts.storage.secretAttempts,
      opts.secretGuesses ?? CONTEXT_DEFAULTS.secretGuesses,
      now,
      log.child({ component: 'secrets' }),
    ),
    recordLimits: opts.recordLimits ?? CONTEXT_DEFAULTS.recordLimits,
    ...(opts.trees && { trees: opts.trees }),
    afterSale: opts.afterSale ?? CONTEXT_DEFAULTS.afterSale,
  };
}

export const iso = (ctx: ServiceContext): string => ctx.now().toISOString();

export function verifyUrl(ctx: ServiceContext, recordId: string): string {
  return `${ctx.publicBaseUrl}/v/${recordId}`;
}
