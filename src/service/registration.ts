/**
 * Registering records: each with its issuance event (seq 0), all or nothing, idempotent on
 * (merchant, externalId). Nothing here touches the chain: the issuance waits, unbatched, for the
 * batcher to seal it.
 */
import {
  canonicalJson,
  ISSUED,
  ISSUED_HEAD,
  keccak256Hex,
  secretCommitment,
  utf8,
  ZERO32,
  type Hex,
  type RecordKind,
} from '../core/index.ts';
import { isDuplicateKey } from '../storage/errors.ts';
import type { EventRow, RecordRow } from '../storage/rows.ts';
import type { Stores } from '../storage/storage.ts';
import { anchorStatusOf } from './anchor-view.ts';
import { iso, verifyUrl, type ServiceContext } from './context.ts';
import { badRequest, conflict } from './errors.ts';
import { leafOfJson } from './leaves.ts';
import type { Merchant } from './merchants.ts';
import { randomId, randomSalt } from './random.ts';

export const MAX_RECORDS_PER_REQUEST = 1000;

export interface RecordInput {
  externalId: string;
  kind: RecordKind;
  sku: string;
  productName: string;
  serial: string;
  /** The licence key, card PIN or account password: kept only as a salted commitment. */
  secret?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface RegisteredRecord {
  id: string;
  externalId: string;
  status: 'pending' | 'anchored' | 'final';
  verifyUrl: string;
}

/** Public content of an issuance (event 0); specified in docs/proof-format.md. */
export function issuanceContent(
  merchantId: string,
  input: RecordInput,
  commitment: Hex | null,
  at: string,
  salt: Hex,
): Record<string, unknown> {
  return {
    type: ISSUED,
    merchantId,
    kind: input.kind,
    sku: input.sku,
    productName: input.productName,
    serial: input.serial,
    metadata: input.metadata ?? {},
    secretCommitment: commitment,
    at,
    salt,
  };
}

/** Fingerprint of what a registration says, secret excluded: a replay must match it exactly. */
function fingerprint(input: RecordInput): string {
  return keccak256Hex(
    utf8(
      canonicalJson({
        kind: input.kind,
        sku: input.sku,
        productName: input.productName,
        serial: input.serial,
        metadata: input.metadata ?? {},
        hasSecret: input.secret !== undefined,
      }),
    ),
  );
}

/**
 * Registers up to 1,000 records, all or nothing, idempotent on (merchant, externalId): a replay
 * returns the same ids; the same externalId with different content is a 409 and writes nothing.
 */
export async function registerRecords(
  ctx: ServiceContext,
  merchant: Merchant,
  inputs: RecordInput[],
): Promise<{ created: number; records: RegisteredRecord[] }> {
  const seen = new Set<string>();
  for (const input of inputs) {
    if (seen.has(input.externalId)) {
      throw badRequest(
        'duplicate_external_id',
        `externalId ${input.externalId} appears twice in the request`,
      );
    }
    seen.add(input.externalId);
  }
  // Two instances registering the same externalIds at once: the unique key lets one win, and the
  // loser's retry finds the winner's rows and answers as a replay. Each lost attempt means another
  // request committed, so a few attempts suffice even when many requests overlap.
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.storage.transaction((tx) => registerIn(ctx, tx, merchant, inputs));
    } catch (err) {
      if (attempt < 10 && isDuplicateKey(err)) continue;
      throw err;
    }
  }
}

async function registerIn(
  ctx: ServiceContext,
  tx: Stores,
  merchant: Merchant,
  inputs: RecordInput[],
): Promise<{ created: number; records: RegisteredRecord[] }> {
  const existing = new Map<string, RecordRow>();
  const found = await tx.records.byExternalIds(
    merchant.id,
    inputs.map((i) => i.externalId),
  );
  for (const row of found) existing.set(row.external_id, row);

  const now = iso(ctx);
  const newRecords: RecordRow[] = [];
  const newEvents: EventRow[] = [];
  const results: RegisteredRecord[] = [];
  for (const input of inputs) {
    const print = fingerprint(input);
    const old = existing.get(input.externalId);
    if (old) {
      const secretDiffers =
        input.secret !== undefined &&
        (old.secret_salt === null ||
          secretCommitment(input.secret, old.secret_salt as Hex) !== old.secret_commitment);
      if (old.fingerprint !== print || secretDiffers) {
        throw conflict(
          'external_id_conflict',
          `externalId ${input.externalId} was registered with different content; nothing was written`,
        );
      }
      results.push({
        id: old.id,
        externalId: old.external_id,
        status: 'pending',
        verifyUrl: verifyUrl(ctx, old.id),
      });
      continue;
    }
    const id = randomId();
    const secretSalt = input.secret !== undefined ? randomSalt() : null;
    const commitment = input.secret !== undefined ? secretCommitment(input.secret, secretSalt as Hex) : null;
    const content = issuanceContent(merchant.id, input, commitment, now, randomSalt());
    const contentJson = canonicalJson(content);
    newRecords.push({
      id,
      merchant_id: merchant.id,
      external_id: input.externalId,
      kind: input.kind,
      sku: input.sku,
      product_name: input.productName,
      serial: input.serial,
      metadata: canonicalJson(content.metadata),
      secret_salt: secretSalt,
      secret_commitment: commitment,
      fingerprint: print,
      head_seq: 0,
      state: ISSUED_HEAD.state,
      sold: ISSUED_HEAD.sold ? 1 : 0,
      activated: ISSUED_HEAD.activated ? 1 : 0,
      created_at: now,
    });
    newEvents.push({
      record_id: id,
      seq: 0,
      type: ISSUED,
      content: contentJson,
      leaf: leafOfJson(id, 0, ZERO32, contentJson),
      prev_leaf: ZERO32,
      created_at: now,
      batch_id: null,
      leaf_index: null,
    });
    results.push({ id, externalId: input.externalId, status: 'pending', verifyUrl: verifyUrl(ctx, id) });
  }

  await tx.records.insertMany(newRecords);
  await tx.events.insertMany(newEvents);

  const replayed = results.filter((r) => existing.has(r.externalId));
  if (replayed.length > 0) await fillStatuses(tx, replayed);
  return { created: newRecords.length, records: results };
}

/** Sets each replayed record's status from its issuance event's batch. */
async function fillStatuses(tx: Stores, records: RegisteredRecord[]): Promise<void> {
  const statuses = await tx.events.issuanceStatuses(records.map((r) => r.id));
  for (const record of records) record.status = anchorStatusOf(statuses.get(record.id));
}
