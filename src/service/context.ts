/** What every service function needs: the stores, the clock, the server key, where the pages live. */
import type { Storage } from '../storage/storage.ts';
import type { ProofCache } from './proof-cache.ts';
import type { ScanCounter } from './scans.ts';
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
  /** Builds large batch trees in a worker thread; without it every tree is built inline. */
  trees?: TreeBuilder;
}

export const iso = (ctx: ServiceContext): string => ctx.now().toISOString();

export function verifyUrl(ctx: ServiceContext, recordId: string): string {
  return `${ctx.publicBaseUrl}/v/${recordId}`;
}
