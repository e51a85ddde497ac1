/** UniqueKeyStore on SQL: the partial unique index unique_keys_live_idx decides races (migration 009). */
import type { Kysely } from 'kysely';
import type { DuplicateRefusalRow, UniqueKeyRow } from '../rows.ts';
import type { UniqueKeyStore } from '../storage.ts';
import { atomically, slices, type SqlContext } from './context.ts';
import { IDS_PER_IN_LIST, rowsPerInsert, write } from './dialect.ts';
import type { Database } from './schema.ts';

const KEYS_PER_INSERT = rowsPerInsert(7, 1000);
const REFUSALS_PER_INSERT = rowsPerInsert(7, 1000);

export class SqlUniqueKeyStore implements UniqueKeyStore {
  constructor(private readonly ctx: SqlContext) {}

  /** In key order, so overlapping registrations wait for each other instead of deadlocking (PostgreSQL). */
  async insertMany(rows: readonly UniqueKeyRow[]): Promise<void> {
    if (rows.length === 0) return;
    const sorted = [...rows].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    await write(() =>
      atomically(this.ctx, async (db) => {
        for (const slice of slices(sorted, KEYS_PER_INSERT)) {
          await this.ctx.compiled.insertRows(db, 'unique_keys', slice);
        }
      }),
    );
  }

  async holders(keys: readonly string[]): Promise<UniqueKeyRow[]> {
    const lists = slices([...new Set(keys)], IDS_PER_IN_LIST);
    const read = async (db: Kysely<Database>) => {
      const out: UniqueKeyRow[] = [];
      for (const list of lists) {
        out.push(...(await db.selectFrom('unique_keys').selectAll().where('key', 'in', list).execute()));
      }
      return out;
    };
    return lists.length > 1 ? atomically(this.ctx, read) : read(this.ctx.db);
  }

  ofRecord(recordId: string): Promise<UniqueKeyRow[]> {
    return this.ctx.compiled.run(
      this.ctx.db,
      'uniqueKeys.ofRecord',
      (db) => db.selectFrom('unique_keys').selectAll().where('record_id', '=', ''),
      [recordId],
    );
  }

  async endRecord(recordId: string): Promise<void> {
    await this.ctx.db
      .updateTable('unique_keys')
      .set({ ended: 1 })
      .where('record_id', '=', recordId)
      .where('ended', '=', 0)
      .execute();
  }

  async logRefusals(rows: readonly DuplicateRefusalRow[]): Promise<void> {
    if (rows.length === 0) return;
    await write(() =>
      atomically(this.ctx, async (db) => {
        for (const slice of slices(rows, REFUSALS_PER_INSERT)) {
          await db.insertInto('duplicate_refusals').values(slice).execute();
        }
      }),
    );
  }

  refusals(merchantId: string | null, limit: number): Promise<DuplicateRefusalRow[]> {
    return this.ctx.db
      .selectFrom('duplicate_refusals')
      .selectAll()
      .$if(merchantId !== null, (q) => q.where('merchant_id', '=', merchantId!))
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
  }
}
