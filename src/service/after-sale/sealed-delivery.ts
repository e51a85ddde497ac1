/**
 * Sealed delivery: the merchant records a sale and hands proofmark the secret, which is kept sealed
 * under the server key (purpose 'sealed-delivery', bound to the record id) and never in the clear;
 * the buyer gets a one-time reveal link whose token is stored only as its SHA-256. The buyer's first
 * reveal is a `revealed` event, anchored like any other; later reveals show the secret again until it
 * expires (SEALED_DELIVERY_TTL_HOURS from the sale), when the sweeper deletes it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { EventRow, RecordRow, SealedDeliveryRow } from '../../storage/rows.ts';
import { iso, type ServiceContext } from '../context.ts';
import { badRequest, conflict, forbidden, notFound, ServiceError } from '../errors.ts';
import type { Merchant } from '../merchants.ts';
import { appendInTransaction, inEventTransaction } from '../record-events.ts';
import { isBlankSecret, secretMatches } from '../secrets.ts';

/** The reveal link's path under PUBLIC_BASE_URL; the token follows it. */
export const REVEAL_PATH = '/r/';

/** What a merchant's sealed sale returns: the link to hand to the buyer, shown once. */
export interface SealedSale {
  recordId: string;
  seq: number;
  leaf: string;
  revealUrl: string;
  expiresAt: string;
}

/** SHA-256 of a reveal token, as stored. */
export function tokenHash(token: string): string {
  return `0x${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/**
 * Records the sale of the merchant's own record (a `sold` event with data {delivery: 'sealed'}) and
 * keeps `secret` sealed for the buyer. 400 secret_empty for a blank secret, 400 secret_mismatch when
 * the record was registered with a secret and this is not it, 404/403 as appendEvent, 409
 * lifecycle_violation for a record already sold or ended. Nothing is written on a refusal.
 */
export async function sellSealed(
  ctx: ServiceContext,
  merchant: Merchant,
  recordId: string,
  secret: string,
): Promise<SealedSale> {
  if (isBlankSecret(secret)) throw badRequest('secret_empty', 'secret is empty once white space is trimmed');
  const token = randomBytes(32).toString('base64url');
  return inEventTransaction(ctx, async (tx) => {
    const record = await tx.records.get(recordId);
    if (!record) throw notFound('record_not_found', `no record with id ${recordId}`);
    if (record.merchant_id !== merchant.id) {
      throw forbidden('not_record_owner', 'only the merchant that issued a record may sell it');
    }
    if (record.secret_commitment !== null && !secretMatches(ctx.keys, record, secret)) {
      throw badRequest('secret_mismatch', 'the secret is not the one the record was registered with');
    }
    const { event } = await appendInTransaction(ctx, tx, record, 'sold', { delivery: 'sealed' }, 'merchant');
    const now = ctx.now();
    const row: SealedDeliveryRow = {
      record_id: recordId,
      merchant_id: merchant.id,
      sealed_secret: ctx.keys.seal('sealed-delivery', secret, recordId),
      token_hash: tokenHash(token),
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + ctx.afterSale.sealedTtlMs).toISOString(),
      revealed_at: null,
    };
    await tx.afterSale.insertSealed(row);
    return {
      recordId,
      seq: event.seq,
      leaf: event.leaf,
      revealUrl: `${ctx.publicBaseUrl}${REVEAL_PATH}${token}`,
      expiresAt: row.expires_at,
    };
  });
}

/** What a reveal link shows before anyone presses reveal (no secret). */
export interface RevealStatus {
  recordId: string;
  revealedAt: string | null;
  expiresAt: string;
  /** Whether the secret can still be shown (false once expired and deleted). */
  available: boolean;
}

/** 404 reveal_not_found for a token that names no sealed delivery. */
async function deliveryOf(ctx: ServiceContext, token: string): Promise<SealedDeliveryRow> {
  const row =
    token.length > 0 && token.length <= 100
      ? await ctx.storage.afterSale.sealedByToken(tokenHash(token))
      : undefined;
  if (!row) throw notFound('reveal_not_found', 'no sealed delivery has this reveal link');
  return row;
}

const expired = (ctx: ServiceContext, row: SealedDeliveryRow) =>
  row.sealed_secret === null || row.expires_at <= iso(ctx);

export async function revealStatus(ctx: ServiceContext, token: string): Promise<RevealStatus> {
  const row = await deliveryOf(ctx, token);
  return {
    recordId: row.record_id,
    revealedAt: row.revealed_at,
    expiresAt: row.expires_at,
    available: !expired(ctx, row),
  };
}

/** The secret and whether this was the first reveal (which appended `revealed`). */
export interface Revealed {
  recordId: string;
  secret: string;
  revealedAt: string;
  first: boolean;
  /** The `revealed` event this reveal appended; null for a later reveal. */
  event: Pick<EventRow, 'seq' | 'leaf'> | null;
}

/**
 * Shows the buyer the secret: 404 reveal_not_found, 410 reveal_expired once the secret is deleted.
 * The first reveal appends `revealed` (its time in the event); a later one adds nothing. A record
 * that ended before the first reveal (revoked, refunded) still shows the secret, without the event.
 */
export async function reveal(ctx: ServiceContext, token: string): Promise<Revealed> {
  const found = await deliveryOf(ctx, token);
  if (expired(ctx, found))
    throw new ServiceError(410, 'reveal_expired', 'the sealed secret has expired and was deleted');
  return inEventTransaction(ctx, async (tx) => {
    const row = (await tx.afterSale.sealedOf(found.record_id))!;
    if (expired(ctx, row)) {
      throw new ServiceError(410, 'reveal_expired', 'the sealed secret has expired and was deleted');
    }
    const secret = ctx.keys.open('sealed-delivery', row.sealed_secret!, row.record_id).toString('utf8');
    if (row.revealed_at !== null) {
      return { recordId: row.record_id, secret, revealedAt: row.revealed_at, first: false, event: null };
    }
    const at = iso(ctx);
    if (!(await tx.afterSale.markRevealed(row.record_id, at))) {
      throw conflict('concurrent_reveal', 'the link was revealed at the same time; retry');
    }
    const record = (await tx.records.get(row.record_id)) as RecordRow;
    if (record.state !== 'active') {
      return { recordId: row.record_id, secret, revealedAt: at, first: true, event: null };
    }
    const { event } = await appendInTransaction(ctx, tx, record, 'revealed', {}, 'after-sale');
    return {
      recordId: row.record_id,
      secret,
      revealedAt: at,
      first: true,
      event: { seq: event.seq, leaf: event.leaf },
    };
  });
}

/** Deletes the sealed secrets expired by now, a bounded number a call; returns how many. */
export function purgeExpiredSecrets(ctx: ServiceContext, limit = 500): Promise<number> {
  return ctx.storage.afterSale.purgeExpiredSecrets(iso(ctx), limit);
}

/** Whether possession of the record is shown by this reveal token. */
export async function tokenOpensRecord(
  ctx: ServiceContext,
  token: string,
  recordId: string,
): Promise<boolean> {
  if (token.length === 0 || token.length > 100) return false;
  const row = await ctx.storage.afterSale.sealedByToken(tokenHash(token));
  return row?.record_id === recordId;
}
