/**
 * Merchant admission and discipline. A merchant starts `pending`, becomes `verified` when the
 * operator records evidence of its authorisation (hashes of documents such as a publisher's reseller
 * letter), gets one recorded warning at its first strike and is suspended at its second.
 */
import { isDuplicateKey } from '../storage/errors.ts';
import type { MerchantRow } from '../storage/rows.ts';
import type { Stores } from '../storage/storage.ts';
import { iso, type ServiceContext } from './context.ts';
import { assertDisplayable } from './display-text.ts';
import { conflict, forbidden, notFound, unauthorized } from './errors.ts';
import { nameKey } from './merchant-names.ts';
import { newApiKey, randomId, sha256Hex } from './random.ts';
import { enqueueWebhook } from './webhooks/outbox.ts';

export type Merchant = MerchantRow;

export const STRIKES_TO_SUSPEND = 2;

export interface Evidence {
  description: string;
  sha256: string;
}

export interface MerchantProfile {
  id: string;
  name: string;
  status: Merchant['status'];
  createdAt: string;
  verifiedSince: string | null;
  suspendedSince: string | null;
  /** How many strikes and when; why is for the operator only (merchantStrikes). */
  strikes: Array<{ number: number; at: string }>;
  evidence: Array<{ description: string; sha256: string; addedAt: string }>;
}

/** A merchant's strikes with their reasons: the operator's record, never public. */
export interface StrikeRecord {
  merchantId: string;
  strikes: Array<{ number: number; reason: string; at: string }>;
}

/**
 * Admits a merchant (pending). 400 unsafe_text or blank_text for a name the page could not show as
 * it is; 409 merchant_name_taken when the name is confusable with another merchant's (same key:
 * service/merchant-names.ts), suspended ones included, so a struck-off name cannot come back.
 */
export async function createMerchant(
  ctx: ServiceContext,
  input: { name: string; contactEmail?: string | undefined },
): Promise<{ merchant: Merchant; apiKey: string }> {
  assertDisplayable([['name', input.name]]);
  const key = nameKey(input.name);
  const merchant: Merchant = {
    // The prefix keeps ids from starting with '-', which command lines would read as an option.
    id: `m_${randomId()}`,
    name: input.name,
    contact_email: input.contactEmail ?? null,
    status: 'pending',
    created_at: iso(ctx),
    verified_at: null,
    suspended_at: null,
    name_key: key,
  };
  const apiKey = newApiKey();
  try {
    await ctx.storage.transaction(async (tx) => {
      const holder = await tx.merchants.byNameKey(key);
      if (holder) throw nameTaken(input.name, holder);
      await tx.merchants.insert(merchant);
      await tx.merchants.insertKey({
        key_hash: apiKey.hash,
        merchant_id: merchant.id,
        created_at: merchant.created_at,
        revoked_at: null,
      });
    });
  } catch (err) {
    // Two admissions of one name at once: the unique key lets one in.
    if (!isDuplicateKey(err)) throw err;
    const holder = await ctx.storage.merchants.byNameKey(key);
    if (holder) throw nameTaken(input.name, holder);
    throw err;
  }
  return { merchant, apiKey: apiKey.key };
}

function nameTaken(name: string, holder: Merchant) {
  return conflict(
    'merchant_name_taken',
    `"${name}" reads the same as the name of merchant ${holder.id} ("${holder.name}"): choose a name that cannot be mistaken for it`,
  );
}

export async function getMerchant(ctx: ServiceContext, id: string): Promise<Merchant> {
  const merchant = await ctx.storage.merchants.get(id);
  if (!merchant) throw notFound('merchant_not_found', `no merchant with id ${id}`);
  return merchant;
}

export async function merchantProfile(ctx: ServiceContext, id: string): Promise<MerchantProfile> {
  const merchant = await getMerchant(ctx, id);
  const [strikes, evidence] = await Promise.all([
    ctx.storage.merchants.strikes(id),
    ctx.storage.merchants.evidence(id),
  ]);
  return {
    id: merchant.id,
    name: merchant.name,
    status: merchant.status,
    createdAt: merchant.created_at,
    verifiedSince: merchant.verified_at,
    suspendedSince: merchant.suspended_at,
    strikes: strikes.map((s) => ({ number: s.number, at: s.created_at })),
    evidence: evidence.map((e) => ({ description: e.description, sha256: e.sha256, addedAt: e.added_at })),
  };
}

/** The merchant's strikes with their reasons (operator only); 404 merchant_not_found. */
export async function merchantStrikes(ctx: ServiceContext, id: string): Promise<StrikeRecord> {
  await getMerchant(ctx, id);
  const strikes = await ctx.storage.merchants.strikes(id);
  return {
    merchantId: id,
    strikes: strikes.map((s) => ({ number: s.number, reason: s.reason, at: s.created_at })),
  };
}

/** Records the evidence and marks the merchant verified. A suspended merchant stays suspended. */
export async function verifyMerchant(
  ctx: ServiceContext,
  id: string,
  evidence: Evidence[],
): Promise<MerchantProfile> {
  await ctx.storage.transaction(async (tx) => {
    const merchant = await tx.merchants.get(id);
    if (!merchant) throw notFound('merchant_not_found', `no merchant with id ${id}`);
    if (merchant.status === 'suspended') {
      throw conflict('merchant_suspended', 'a suspended merchant cannot be verified again');
    }
    const start = (await tx.merchants.evidence(id)).at(-1)?.position ?? 0;
    const now = iso(ctx);
    await tx.merchants.addEvidence(
      evidence.map((e, i) => ({
        merchant_id: id,
        position: start + i + 1,
        description: e.description,
        sha256: e.sha256.toLowerCase(),
        added_at: now,
      })),
    );
    if (merchant.status === 'pending') {
      await tx.merchants.update(id, { status: 'verified', verified_at: now });
    }
  });
  return merchantProfile(ctx, id);
}

/** The first strike is a warning; the second suspends the merchant and disables its keys. */
export async function strikeMerchant(
  ctx: ServiceContext,
  id: string,
  reason: string,
): Promise<MerchantProfile> {
  try {
    await ctx.storage.transaction((tx) => strikeInTransaction(ctx, tx, id, reason));
  } catch (err) {
    if (isDuplicateKey(err))
      throw conflict('concurrent_strike', 'another strike was recorded at the same time; retry');
    throw err;
  }
  return merchantProfile(ctx, id);
}

/**
 * Records a strike on merchant `id` inside `tx`, suspending it at the second, with its webhook: 404
 * merchant_not_found, 409 merchant_suspended. A racing strike makes the transaction fail with
 * DuplicateKeyError. For a step that strikes as part of something larger (a dispute's decision).
 */
export async function strikeInTransaction(
  ctx: ServiceContext,
  tx: Stores,
  id: string,
  reason: string,
): Promise<void> {
  const merchant = await tx.merchants.get(id);
  if (!merchant) throw notFound('merchant_not_found', `no merchant with id ${id}`);
  if (merchant.status === 'suspended')
    throw conflict('merchant_suspended', 'the merchant is already suspended');
  const number = (await tx.merchants.strikes(id)).length + 1;
  // The status read above may predate a racing strike that has since suspended the merchant.
  if (number > STRIKES_TO_SUSPEND) throw conflict('merchant_suspended', 'the merchant is already suspended');
  const now = iso(ctx);
  // The (merchant_id, number) key makes two racing strikes take numbers 1 and 2, never 1 twice.
  await tx.merchants.addStrike({ merchant_id: id, number, reason, created_at: now });
  if (number >= STRIKES_TO_SUSPEND) {
    await tx.merchants.update(id, { status: 'suspended', suspended_at: now });
    await tx.merchants.revokeKeys(id, now);
  }
  await enqueueWebhook(tx, now, id, {
    type: 'merchant.strike',
    data: { merchantId: id, number, reason, at: now, suspended: number >= STRIKES_TO_SUSPEND },
  });
}

/** Issues a new key and revokes the old ones. */
export async function rotateKey(
  ctx: ServiceContext,
  id: string,
): Promise<{ merchant: Merchant; apiKey: string }> {
  const key = newApiKey();
  const merchant = await ctx.storage.transaction(async (tx) => {
    const merchant = await tx.merchants.get(id);
    if (!merchant) throw notFound('merchant_not_found', `no merchant with id ${id}`);
    if (merchant.status === 'suspended')
      throw conflict('merchant_suspended', 'a suspended merchant gets no keys');
    const now = iso(ctx);
    await tx.merchants.revokeKeys(id, now);
    await tx.merchants.insertKey({ key_hash: key.hash, merchant_id: id, created_at: now, revoked_at: null });
    return merchant;
  });
  return { merchant, apiKey: key.key };
}

/** The merchant behind a bearer key: 401 for an unknown or revoked key, 403 unless verified. */
export async function authenticateMerchant(ctx: ServiceContext, apiKey: string): Promise<Merchant> {
  const found = await ctx.storage.merchants.byKeyHash(sha256Hex(apiKey));
  if (!found || found.revokedAt !== null) throw unauthorized('unknown or revoked API key');
  const { merchant } = found;
  // A pending merchant's key lands here (403). A suspended merchant's keys were revoked at the second
  // strike (401 above); this stays as the guard should a key outlive that.
  if (merchant.status !== 'verified') {
    throw forbidden(
      `merchant_${merchant.status}`,
      `merchant is ${merchant.status}: only verified merchants may write`,
    );
  }
  return merchant;
}
