/** What every service function needs: the database, the clock, and where the public pages live. */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.ts';
import type { ProofCache } from './proof-cache.ts';
import type { ScanCounter } from './scans.ts';

export interface ServiceContext {
  db: Kysely<Database>;
  now(): Date;
  /** PUBLIC_BASE_URL without a trailing slash; QR codes and verifyUrl point under it. */
  publicBaseUrl: string;
  scans: ScanCounter;
  /** Proofs of final batches; without it every proof is read from the database. */
  proofCache?: ProofCache;
}

export const iso = (ctx: ServiceContext): string => ctx.now().toISOString();

export function verifyUrl(ctx: ServiceContext, recordId: string): string {
  return `${ctx.publicBaseUrl}/v/${recordId}`;
}

/** Unique-constraint violations from either dialect, so callers can let the database decide races. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    e?.code === '23505' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}
