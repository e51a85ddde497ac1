/** RecordStore on SQL: one row per issued item, its head swapped by compare-and-set. */
import { sql, type Kysely } from 'kysely';
import type { MerchantRow, RecordHead, RecordRow } from '../rows.ts';
import type { RecordStore } from '../storage.ts';
import { atomically, slices, type SqlContext } from './context.ts';
import { IDS_PER_IN_LIST, rowsPerInsert, write } from './dialect.ts';
import type { Database } from './schema.ts';

const RECORDS_PER_INSERT = rowsPerInsert(16, 1000);

const byExternalId = (x: RecordRow, y: RecordRow) =>
  x.external_id < y.external_id ? -1 : x.external_id > y.external_id ? 1 : 0;

export class SqlRecordStore implements RecordStore {
  constructor(private readonly ctx: SqlContext) {}

  /**
   * Multi-row inserts, in externalId order: overlapping registrations then wait for each other on
   * the (merchant_id, external_id) key instead of deadlocking (PostgreSQL).
   */
  async insertMany(rows: readonly RecordRow[]): Promise<void> {
    if (rows.length === 0) return;
    const sorted = [...rows].sort(byExternalId);
    await write(() =>
      atomically(this.ctx, async (db) => {
        for (const slice of slices(sorted, RECORDS_PER_INSERT)) {
          await this.ctx.compiled.insertRows(db, 'records', slice);
        }
      }),
    );
  }

  async get(id: string): Promise<RecordRow | undefined> {
    const [record] = await this.ctx.compiled.run(
      this.ctx.db,
      'records.get',
      (db) => db.selectFrom('records').selectAll().where('id', '=', ''),
      [id],
    );
    return record;
  }

  async getWithMerchant(id: string): Promise<{ record: RecordRow; merchant: MerchantRow } | undefined> {
    const [row] = await this.ctx.compiled.run(
      this.ctx.db,
      'records.getWithMerchant',
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
            'merchants.name_key as m_name_key',
          ])
          .where('records.id', '=', ''),
      [id],
    );
    if (!row) return undefined;
    const {
      m_name,
      m_contact_email,
      m_status,
      m_created_at,
      m_verified_at,
      m_suspended_at,
      m_name_key,
      ...record
    } = row;
    const merchant: MerchantRow = {
      id: record.merchant_id,
      name: m_name,
      contact_email: m_contact_email,
      status: m_status,
      created_at: m_created_at,
      verified_at: m_verified_at,
      suspended_at: m_suspended_at,
      name_key: m_name_key,
    };
    return { record, merchant };
  }

  async byExternalIds(merchantId: string, externalIds: readonly string[]): Promise<RecordRow[]> {
    const lists = slices([...new Set(externalIds)], IDS_PER_IN_LIST);
    const read = async (db: Kysely<Database>) => {
      const out: RecordRow[] = [];
      for (const ids of lists) {
        out.push(
          ...(await db
            .selectFrom('records')
            .selectAll()
            .where('merchant_id', '=', merchantId)
            .where('external_id', 'in', ids)
            .execute()),
        );
      }
      return out;
    };
    return lists.length > 1 ? atomically(this.ctx, read) : read(this.ctx.db);
  }

  async advanceHead(id: string, expectedHeadSeq: number, head: RecordHead): Promise<boolean> {
    const result = await this.ctx.db
      .updateTable('records')
      .set({
        head_seq: head.head_seq,
        state: head.state,
        sold: head.sold,
        activated: head.activated,
        revealed: head.revealed,
        dispute: head.dispute,
      })
      .where('id', '=', id)
      .where('head_seq', '=', expectedHeadSeq)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** The predicate is migration 003's partial index's, word for word, so the planner reads only it. */
  plainSalts(afterId: string, limit: number): Promise<Array<Pick<RecordRow, 'id' | 'secret_salt'>>> {
    return this.ctx.db
      .selectFrom('records')
      .select(['id', 'secret_salt'])
      .where(sql<boolean>`secret_salt LIKE '0x%'`)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  async replaceSalt(id: string, expected: string, replacement: string): Promise<boolean> {
    const result = await this.ctx.db
      .updateTable('records')
      .set({ secret_salt: replacement })
      .where('id', '=', id)
      .where('secret_salt', '=', expected)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
