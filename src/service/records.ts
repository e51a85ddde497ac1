/**
 * Licence records and their lifecycle events. Registering a record writes its issuance event
 * (seq 0); every later event is a leaf chained to the one before. Nothing here touches the chain:
 * events wait, unbatched, for the batcher to seal them.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import {
  canonicalJson,
  keccak256Hex,
  leafOfHashedContent,
  secretCommitment,
  utf8,
  ZERO32,
  type Hex,
} from '../core/index.ts';
import { runCompiled } from '../storage/compiled.ts';
import type { Database, EventsTable, RecordsTable } from '../storage/schema.ts';
import { iso, isUniqueViolation, verifyUrl, type ServiceContext } from './context.ts';
import { badRequest, conflict, forbidden, notFound } from './errors.ts';
import type { Merchant } from './merchants.ts';
import { randomId, randomSalt } from './random.ts';

export type RecordRow = Selectable<RecordsTable>;
export type EventRow = Selectable<EventsTable>;

export const RECORD_KINDS = ['licence', 'account', 'card'] as const;
export const EVENT_TYPES = ['sold', 'activated', 'transferred', 'revoked', 'refunded'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const MAX_RECORDS_PER_REQUEST = 1000;

export interface RecordInput {
  externalId: string;
  kind: RecordRow['kind'];
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
    type: 'issued',
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

/** The leaf of an event whose content is already canonical JSON: each content is canonicalised once. */
function leafOfJson(recordId: string, seq: number, prevLeaf: Hex, contentJson: string): Hex {
  return leafOfHashedContent(recordId, seq, prevLeaf, keccak256Hex(utf8(contentJson)));
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
      return await ctx.db.transaction().execute((trx) => registerIn(ctx, trx, merchant, inputs));
    } catch (err) {
      if (attempt < 10 && isUniqueViolation(err)) continue;
      throw err;
    }
  }
}

async function registerIn(
  ctx: ServiceContext,
  trx: Transaction<Database>,
  merchant: Merchant,
  inputs: RecordInput[],
): Promise<{ created: number; records: RegisteredRecord[] }> {
  const existing = new Map<string, RecordRow>();
  for (const ids of chunks(
    inputs.map((i) => i.externalId),
    500,
  )) {
    const rows = await trx
      .selectFrom('records')
      .selectAll()
      .where('merchant_id', '=', merchant.id)
      .where('external_id', 'in', ids)
      .execute();
    for (const row of rows) existing.set(row.external_id, row);
  }

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
      state: 'active',
      sold: 0,
      activated: 0,
      created_at: now,
    });
    newEvents.push({
      record_id: id,
      seq: 0,
      type: 'issued',
      content: contentJson,
      leaf: leafOfJson(id, 0, ZERO32, contentJson),
      prev_leaf: ZERO32,
      created_at: now,
      batch_id: null,
      leaf_index: null,
    });
    results.push({ id, externalId: input.externalId, status: 'pending', verifyUrl: verifyUrl(ctx, id) });
  }

  // Multi-row inserts, kept under both dialects' bound-parameter limits. In externalId order, so that
  // overlapping requests wait for each other on the unique key instead of deadlocking (PostgreSQL).
  newRecords.sort((x, y) => (x.external_id < y.external_id ? -1 : x.external_id > y.external_id ? 1 : 0));
  for (const rows of chunks(newRecords, 1000)) await trx.insertInto('records').values(rows).execute();
  for (const rows of chunks(newEvents, 2000)) await trx.insertInto('events').values(rows).execute();

  const replayed = results.filter((r) => existing.has(r.externalId));
  if (replayed.length > 0) await fillStatuses(trx, replayed);
  return { created: newRecords.length, records: results };
}

/** Sets each replayed record's status from its issuance event's batch. */
async function fillStatuses(db: Kysely<Database>, records: RegisteredRecord[]): Promise<void> {
  const byId = new Map(records.map((r) => [r.id, r]));
  for (const ids of chunks([...byId.keys()], 500)) {
    const rows = await db
      .selectFrom('events')
      .leftJoin('batches', 'batches.id', 'events.batch_id')
      .select(['events.record_id', 'batches.status'])
      .where('events.record_id', 'in', ids)
      .where('events.seq', '=', 0)
      .execute();
    for (const row of rows) byId.get(row.record_id)!.status = anchorStatusOf(row.status);
  }
}

export function anchorStatusOf(batchStatus: string | null | undefined): 'pending' | 'anchored' | 'final' {
  if (batchStatus === 'final') return 'final';
  if (batchStatus === 'anchored') return 'anchored';
  return 'pending';
}

/** Which events a record in a given state accepts: 409 for impossible steps. */
function lifecycleError(record: RecordRow, type: EventType): string | null {
  if (record.state !== 'active') return `the record is ${record.state}: no event may follow`;
  if (type === 'sold' && record.sold) return 'the record was already sold; record a transfer instead';
  if (type === 'activated' && record.activated) return 'the record was already activated';
  if (type === 'refunded' && !record.sold) return 'a record that was never sold cannot be refunded';
  return null;
}

export async function appendEvent(
  ctx: ServiceContext,
  merchant: Merchant,
  recordId: string,
  type: EventType,
  data: Record<string, unknown> | undefined,
): Promise<EventRow> {
  try {
    return await ctx.db.transaction().execute(async (trx) => {
      const record = await trx
        .selectFrom('records')
        .selectAll()
        .where('id', '=', recordId)
        .executeTakeFirst();
      if (!record) throw notFound('record_not_found', `no record with id ${recordId}`);
      if (record.merchant_id !== merchant.id) {
        throw forbidden('not_record_owner', 'only the merchant that issued a record may add its events');
      }
      const problem = lifecycleError(record, type);
      if (problem) throw conflict('lifecycle_violation', problem);

      const head = await trx
        .selectFrom('events')
        .select('leaf')
        .where('record_id', '=', recordId)
        .where('seq', '=', record.head_seq)
        .executeTakeFirstOrThrow();
      const at = iso(ctx);
      const content = { type, data: data ?? {}, at, salt: randomSalt() };
      const contentJson = canonicalJson(content);
      const seq = record.head_seq + 1;
      const event: EventRow = {
        record_id: recordId,
        seq,
        type,
        content: contentJson,
        leaf: leafOfJson(recordId, seq, head.leaf as Hex, contentJson),
        prev_leaf: head.leaf,
        created_at: at,
        batch_id: null,
        leaf_index: null,
      };
      await trx.insertInto('events').values(event).execute();
      const updated = await trx
        .updateTable('records')
        .set({
          head_seq: seq,
          state: type === 'revoked' ? 'revoked' : type === 'refunded' ? 'refunded' : 'active',
          sold: record.sold || type === 'sold' ? 1 : 0,
          activated: record.activated || type === 'activated' ? 1 : 0,
        })
        .where('id', '=', recordId)
        .where('head_seq', '=', record.head_seq)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1)
        throw conflict('concurrent_event', 'another event was added at once');
      return event;
    });
  } catch (err) {
    // The (record_id, seq) key decides between two events racing for the same place in the chain.
    if (isUniqueViolation(err))
      throw conflict('concurrent_event', 'another event was added at the same time; retry');
    throw err;
  }
}

export async function findRecord(ctx: ServiceContext, recordId: string): Promise<RecordRow | undefined> {
  const rows = await runCompiled(
    ctx.db,
    'findRecord',
    (db) => db.selectFrom('records').selectAll().where('id', '=', ''),
    [recordId],
  );
  return rows[0];
}

/** A record and its merchant in one query: the verdict's first read. */
export async function findRecordWithMerchant(
  ctx: ServiceContext,
  recordId: string,
): Promise<{ record: RecordRow; merchant: Merchant } | undefined> {
  const [row] = await runCompiled(
    ctx.db,
    'findRecordWithMerchant',
    (db) =>
      db
        .selectFrom('records')
        .innerJoin('merchants', 'merchants.id', 'records.merchant_id')
        .selectAll('records')
        .select([
          'merchants.name as m_name',
          'merchants.contact_email as m_contact_email',
          'merchants.status as m_status',
          'merchants.created_at as m_created_at',
          'merchants.verified_at as m_verified_at',
          'merchants.suspended_at as m_suspended_at',
        ])
        .where('records.id', '=', ''),
    [recordId],
  );
  if (!row) return undefined;
  const { m_name, m_contact_email, m_status, m_created_at, m_verified_at, m_suspended_at, ...record } = row;
  const merchant: Merchant = {
    id: record.merchant_id,
    name: m_name,
    contact_email: m_contact_email,
    status: m_status,
    created_at: m_created_at,
    verified_at: m_verified_at,
    suspended_at: m_suspended_at,
  };
  return { record, merchant };
}

export async function getRecord(ctx: ServiceContext, recordId: string): Promise<RecordRow> {
  const record = await findRecord(ctx, recordId);
  if (!record) throw notFound('record_not_found', `no record with id ${recordId}`);
  return record;
}

export interface EventWithBatch extends EventRow {
  batch_status: string | null;
  tx_hash: string | null;
  block_number: number | null;
  root: string | null;
  batch_leaf_count: number | null;
  chain_root: string | null;
}

export async function recordEvents(ctx: ServiceContext, recordId: string): Promise<EventWithBatch[]> {
  return runCompiled(ctx.db, 'recordEvents', (db) => recordEventsQuery(db, ''), [recordId]);
}

function recordEventsQuery(db: Kysely<Database>, recordId: string) {
  return db
    .selectFrom('events')
    .leftJoin('batches', 'batches.id', 'events.batch_id')
    .selectAll('events')
    .select([
      'batches.status as batch_status',
      'batches.tx_hash',
      'batches.block_number',
      'batches.root',
      'batches.leaf_count as batch_leaf_count',
      'batches.chain_root',
    ])
    .where('events.record_id', '=', recordId)
    .orderBy('events.seq');
}

export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
