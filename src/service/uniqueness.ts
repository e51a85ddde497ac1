/**
 * One key, one sale. Each record registered since the index exists holds its keys once on the
 * platform: its secret's blind index value (HMAC under the server key of the kind and the secret
 * normalised by src/core/blind-index.ts, so another spelling is the same key; a database copy cannot
 * be searched by guessing without the server key), and its serial within (merchant, SKU). A key held
 * by a live record, of any merchant, cannot be registered again: 409 duplicate_secret or
 * duplicate_serial, the other merchant never named. A record that ends (refunded, revoked) frees its
 * keys for a re-issue by the same merchant only; the new record names the one it re-issues.
 *
 * The database's unique index over live keys decides races (two instances, one key): the loser's
 * transaction fails with DuplicateKeyError, registration retries it, and the retry sees the winner.
 * Records registered before the index have no keys (their secrets were never kept): their verdict
 * says `uniqueness: 'not-covered'`.
 */
import { bytesToHex, normaliseForIndex, type RecordKind } from '../core/index.ts';
import { DuplicateKeyError } from '../storage/errors.ts';
import type { DuplicateRefusalRow, UniqueKeyRow, UniqueKeyType } from '../storage/rows.ts';
import type { Stores } from '../storage/storage.ts';
import type { ServiceContext } from './context.ts';
import { badRequest, conflict, ServiceError } from './errors.ts';
import { randomId } from './random.ts';
import type { ServerKey } from './server-key.ts';

/** What a verdict says of the record's keys (see the module comment). */
export const UNIQUENESS = ['registered-once', 'no-secret', 'not-covered'] as const;
export type Uniqueness = (typeof UNIQUENESS)[number];

const CODES: Record<UniqueKeyType, string> = { secret: 'duplicate_secret', serial: 'duplicate_serial' };

/** The blind index value of a secret, or null when nothing of it is left once normalised. */
export function secretIndex(keys: ServerKey, kind: RecordKind, secret: string): string | null {
  const normalised = normaliseForIndex(kind, secret);
  return normalised === '' ? null : bytesToHex(keys.mac('blind-index', kind, normalised));
}

/** The key of a serial within its merchant and SKU ('serial' is no record kind, so no secret's key). */
export function serialIndex(keys: ServerKey, merchantId: string, sku: string, serial: string): string {
  return bytesToHex(keys.mac('blind-index', 'serial', merchantId, sku, serial));
}

/** A record about to be registered: what its keys are computed from. */
export interface Candidate {
  recordId: string;
  externalId: string;
  kind: RecordKind;
  sku: string;
  serial: string;
  secret?: string | undefined;
}

export interface Refusal {
  externalId: string;
  type: UniqueKeyType;
  existing: UniqueKeyRow | null;
}

/** Thrown inside the registration's transaction so it writes nothing; `refuse` turns it into the 409. */
export class DuplicateRefusals extends Error {
  constructor(readonly refusals: Refusal[]) {
    super('duplicates refused');
  }
}

/**
 * The rows the candidates will hold, each record's re-issued predecessor on them; throws
 * DuplicateRefusals naming every candidate that duplicates a key (held by a live record, by an ended
 * record of another merchant, or earlier in the same request), and 400 secret_empty for a secret of
 * which normalisation leaves nothing.
 */
export async function planUniqueKeys(
  tx: Stores,
  keys: ServerKey,
  merchantId: string,
  candidates: readonly Candidate[],
  now: string,
): Promise<UniqueKeyRow[]> {
  const wanted = candidates.map((c) => {
    let secret: string | null = null;
    if (c.secret !== undefined) {
      secret = secretIndex(keys, c.kind, c.secret);
      if (secret === null) {
        throw badRequest(
          'secret_empty',
          `externalId ${c.externalId}: nothing of the secret is left once case, spaces and separators are set aside`,
        );
      }
    }
    return { c, secret, serial: serialIndex(keys, merchantId, c.sku, c.serial) };
  });
  const holders = new Map<string, UniqueKeyRow[]>();
  const all = wanted.flatMap((w) => (w.secret ? [w.secret, w.serial] : [w.serial]));
  for (const row of await tx.uniqueKeys.holders(all)) {
    holders.set(row.key, [...(holders.get(row.key) ?? []), row]);
  }

  const rows: UniqueKeyRow[] = [];
  const refusals: Refusal[] = [];
  const taken = new Set<string>();
  for (const { c, secret, serial } of wanted) {
    const own: Array<[UniqueKeyType, string]> = secret
      ? [
          ['secret', secret],
          ['serial', serial],
        ]
      : [['serial', serial]];
    let refusal: Refusal | null = null;
    let reissueOf: UniqueKeyRow | null = null;
    for (const [type, key] of own) {
      const held = holders.get(key) ?? [];
      const blocking = held.find((r) => r.ended === 0) ?? held.find((r) => r.merchant_id !== merchantId);
      if (blocking || taken.has(key)) {
        refusal = { externalId: c.externalId, type, existing: blocking ?? null };
        break;
      }
      const newest = held.reduce<UniqueKeyRow | null>(
        (a, r) => (a === null || r.created_at > a.created_at ? r : a),
        null,
      );
      reissueOf ??= newest;
    }
    if (refusal) {
      refusals.push(refusal);
      continue;
    }
    for (const [type, key] of own) {
      taken.add(key);
      rows.push({
        key,
        type,
        record_id: c.recordId,
        merchant_id: merchantId,
        ended: 0,
        reissue_of: reissueOf?.record_id ?? null,
        created_at: now,
      });
    }
  }
  if (refusals.length > 0) {
    await refuseRaceAsDuplicateKey(tx, merchantId, refusals);
    throw new DuplicateRefusals(refusals);
  }
  return rows;
}

/**
 * A key held by the merchant's own record under the very externalId being registered is no
 * duplicate: a racing registration of the same records committed after this one read its
 * externalIds. It is the unique-key race registration already retries (and answers as a replay).
 */
async function refuseRaceAsDuplicateKey(
  tx: Stores,
  merchantId: string,
  refusals: readonly Refusal[],
): Promise<void> {
  for (const r of refusals) {
    if (r.existing?.merchant_id !== merchantId) continue;
    const record = await tx.records.get(r.existing.record_id);
    if (record?.external_id === r.externalId) {
      throw new DuplicateKeyError(`externalId ${r.externalId} was registered by a racing request`);
    }
  }
}

/**
 * Logs the refusals for the operator (never a secret or its key) and returns the 409 to answer:
 * duplicate_secret when any record repeats a key, else duplicate_serial. It names only the
 * requester's own externalIds, never the merchant or record holding the key.
 */
export async function refuse(
  storage: Stores,
  merchantId: string,
  refusals: readonly Refusal[],
  at: string,
): Promise<ServiceError> {
  const rows: DuplicateRefusalRow[] = refusals.map((r) => ({
    id: randomId(),
    at,
    merchant_id: merchantId,
    type: r.type,
    existing_record_id: r.existing?.record_id ?? null,
    existing_merchant_id: r.existing?.merchant_id ?? null,
    external_id: r.externalId,
  }));
  await storage.uniqueKeys.logRefusals(rows);
  const secrets = refusals.filter((r) => r.type === 'secret').map((r) => r.externalId);
  const serials = refusals.filter((r) => r.type === 'serial').map((r) => r.externalId);
  const parts = [
    secrets.length > 0 && `this key is already registered on this platform (externalId ${list(secrets)})`,
    serials.length > 0 && `this serial is already registered for this SKU (externalId ${list(serials)})`,
  ].filter(Boolean);
  const err = conflict(
    secrets.length > 0 ? CODES.secret : CODES.serial,
    `${parts.join('; ')}; nothing was written`,
  );
  return new ServiceError(
    err.statusCode,
    err.code,
    err.message,
    undefined,
    refusals.map((r) => ({ externalId: r.externalId, code: CODES[r.type] })),
  );
}

function list(ids: readonly string[]): string {
  return ids.length <= 5 ? ids.join(', ') : `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more`;
}

/** What the verdict says of a record's keys, and the record it re-issues. */
export async function uniquenessOf(
  stores: Stores,
  recordId: string,
): Promise<{ uniqueness: Uniqueness; reissueOf: string | null }> {
  const rows = await stores.uniqueKeys.ofRecord(recordId);
  if (rows.length === 0) return { uniqueness: 'not-covered', reissueOf: null };
  return {
    uniqueness: rows.some((r) => r.type === 'secret') ? 'registered-once' : 'no-secret',
    reissueOf: rows[0]!.reissue_of,
  };
}

/** Refused duplicates for the operator, newest first: of one merchant, or of all when null. */
export async function duplicateRefusals(ctx: ServiceContext, merchantId: string | null, limit: number) {
  const rows = await ctx.storage.uniqueKeys.refusals(merchantId, limit);
  return rows.map((r) => ({
    at: r.at,
    merchantId: r.merchant_id,
    type: r.type,
    externalId: r.external_id,
    existingRecordId: r.existing_record_id,
    existingMerchantId: r.existing_merchant_id,
  }));
}
