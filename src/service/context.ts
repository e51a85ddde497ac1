/**
 * What every service function needs: the stores, the clock, the server key and the secret checks'
 * budget, where the pages live, how much a record may hold.
 */
import type { Storage } from '../storage/storage.ts';
import type { ProofCache } from './proof-cache.ts';
import type { ScanCounter } from './scans.ts';
import type { SecretAttempts } from './secret-attempts.ts';
import type { ServerKey } from './server-key.ts';

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
}

/** MAX_EVENTS_PER_RECORD and MAX_EVENT_DATA_BYTES. */
export interface RecordLimits {
  /** Events one record may hold, its issuance included. */
  maxEvents: number;
  /** Bytes of one event's `data` as canonical JSON (UTF-8). */
  maxEventDataBytes: number;
}

export const iso = (ctx: ServiceContext): string => ctx.now().toISOString();

export function verifyUrl(ctx: ServiceContext, recordId: string): string {
  return `${ctx.publicBaseUrl}/v/${recordId}`;
}
