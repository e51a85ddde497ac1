/**
 * Registering records: each with its issuance event (seq 0), all or nothing, idempotent on
 * (merchant, externalId). Nothing here touches the chain: the issuance waits, unbatched, for the
 * batcher to seal it.
 *
 * A replay that carries a secret is compared with the record's commitment, so a changed secret is a
 * 409 like any changed field. That comparison is a secret check like the public ones, and spends the
 * record's tries the same way (secret-attempts.ts): otherwise the owning merchant would have an
 * unlimited oracle (200 for the right secret, 409 for a wrong one). A right secret costs nothing; a
 * record with no try left answers 429 secret_attempts_exhausted, right secret or not.
 */
import {
  Canonical,
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
import { derivedSalt, refuseBlankSecret, secretMatches } from './secrets.ts';
import { DuplicateRefusals, planUniqueKeys, refuse, type Candidate } from './uniqueness.ts';

export const MAX_RECORDS_PER_REQUEST = 1000;

export interface RecordInput {
  externalId: string;
  kind: RecordKind;
  sku: string;
  productName: string;
  serial: string;
  /** The licence key, card PIN or account password: kept only as a commitment under a keyed salt. */
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

/**
 * Fingerprint of what a registration says, secret excluded: a replay must match it exactly.
 * `metadata` is the input's metadata (or {}) canonicalised, when the caller has it already.
 */
function fingerprint(
  input: RecordInput,
  metadata: Canonical | Record<string, unknown> = input.metadata ?? {},
): string {
  return keccak256Hex(
    utf8(
      canonicalJson({
        kind: input.kind,
        sku: input.sku,
        productName: input.productName,
        serial: input.serial,
        metadata,
        hasSecret: input.secret !== undefined,
      }),
    ),
  );
}

/** Replays whose secret has yet to be compared: the transaction stops for them (see registerRecords). */
class UnconfirmedSecrets extends Error {
  constructor(readonly replays: Array<{ record: RecordRow; externalId: string; secret: string }>) {
    super('replayed secrets to compare first');
  }
}

/**
 * Registers up to 1,000 records, all or nothing, idempotent on (merchant, externalId): a replay
 * returns the same ids; the same externalId with different content (its secret included) is a 409
 * and writes nothing. A blank secret is 400 secret_empty. A new record whose secret or serial is
 * already held (uniqueness.ts) is 409 duplicate_secret / duplicate_serial listing every such record
 * of the request in `refused`, and nothing of the request is written: all or nothing, like every
 * other refusal, so a replay of the rest (without the refused records) is an ordinary request.
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
    if (input.secret !== undefined) refuseBlankSecret(input.secret, `externalId ${input.externalId}`);
  }
  // Records whose replayed secret was compared and right. Comparing spends tries, which must stay
  // spent when the registration then fails, so it happens outside the transaction: the transaction
  // stops at replays not yet compared, they are compared, and it runs again.
  const confirmed = new Set<string>();
  // Two instances registering the same externalIds at once: the unique key lets one win, and the
  // loser's retry finds the winner's rows and answers as a replay. Each lost attempt means another
  // request committed, so a few attempts suffice even when many requests overlap.
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.storage.transaction((tx) => registerIn(ctx, tx, merchant, inputs, confirmed));
    } catch (err) {
      if (attempt < 10 && err instanceof UnconfirmedSecrets) {
        await compareReplayedSecrets(ctx, err.replays, confirmed);
        continue;
      }
      if (attempt < 10 && isDuplicateKey(err)) continue;
      if (err instanceof DuplicateRefusals) {
        throw await refuse(ctx.storage, merchant.id, err.refusals, iso(ctx));
      }
      throw err;
    }
  }
}

/**
 * Compares each replayed secret within its record's budget: 429 if a record has no try left, 409
 * external_id_conflict if a secret differs (that try stays spent), else each record joins `confirmed`.
 */
async function compareReplayedSecrets(
  ctx: ServiceContext,
  replays: UnconfirmedSecrets['replays'],
  confirmed: Set<string>,
): Promise<void> {
  const byId = new Map(replays.map((r) => [r.record.id, r]));
  const results = await ctx.secretAttempts.compare([...byId.keys()], (id) => {
    const { record, secret } = byId.get(id)!;
    return secretMatches(ctx.keys, record, secret);
  });
  const differs = replays.find((r) => !results.get(r.record.id)!.match);
  if (differs) throw changedContent(differs.externalId);
  for (const id of byId.keys()) confirmed.add(id);
}

const changedContent = (externalId: string) =>
  conflict(
    'external_id_conflict',
    `externalId ${externalId} was registered with different content; nothing was written`,
  );

async function registerIn(
  ctx: ServiceContext,
  tx: Stores,
  merchant: Merchant,
  inputs: RecordInput[],
  confirmed: ReadonlySet<string>,
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
  const unconfirmed: UnconfirmedSecrets['replays'] = [];
  const candidates: Candidate[] = [];
  for (const input of inputs) {
    // The metadata is canonicalised once, for the fingerprint, the issuance and the row alike.
    const metadata = Canonical.of(input.metadata ?? {}, '$.metadata');
    const print = fingerprint(input, metadata);
    const old = existing.get(input.externalId);
    if (old) {
      // The fingerprint says whether a secret was given, so past it both have one or neither has.
      if (old.fingerprint !== print) throw changedContent(input.externalId);
      if (input.secret !== undefined && !confirmed.has(old.id)) {
        unconfirmed.push({ record: old, externalId: input.externalId, secret: input.secret });
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
    candidates.push({ recordId: id, ...input });
    const commitment =
      input.secret !== undefined ? secretCommitment(input.secret, derivedSalt(ctx.keys, id)) : null;
    const content = issuanceContent(merchant.id, input, commitment, now, randomSalt());
    const contentJson = canonicalJson({ ...content, metadata });
    newRecords.push({
      id,
      merchant_id: merchant.id,
      external_id: input.externalId,
      kind: input.kind,
      sku: input.sku,
      product_name: input.productName,
      serial: input.serial,
      metadata: metadata.json,
      secret_salt: null,
      secret_commitment: commitment,
      fingerprint: print,
      head_seq: 0,
      state: ISSUED_HEAD.state,
      sold: ISSUED_HEAD.sold ? 1 : 0,
      activated: ISSUED_HEAD.activated ? 1 : 0,
      revealed: ISSUED_HEAD.revealed ? 1 : 0,
      dispute: ISSUED_HEAD.dispute,
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
  if (unconfirmed.length > 0) throw new UnconfirmedSecrets(unconfirmed);
  const keys = ctx.withoutUniqueKeys ? [] : await planUniqueKeys(tx, ctx.keys, merchant.id, candidates, now);

  await tx.records.insertMany(newRecords);
  await tx.events.insertMany(newEvents);
  await tx.uniqueKeys.insertMany(keys);

  const replayed = results.filter((r) => existing.has(r.externalId));
  if (replayed.length > 0) await fillStatuses(tx, replayed);
  return { created: newRecords.length, records: results };
}

/** Sets each replayed record's status from its issuance event's batch. */
async function fillStatuses(tx: Stores, records: RegisteredRecord[]): Promise<void> {
  const statuses = await tx.events.issuanceStatuses(records.map((r) => r.id));
  for (const record of records) record.status = anchorStatusOf(statuses.get(record.id));
}
