/** ScanStore on SQL: one row of totals per scanned record. */
import type { ScanIncrement, ScanRow } from '../rows.ts';
import type { ScanStore } from '../storage.ts';
import { atomically, type SqlContext } from './context.ts';

export class SqlScanStore implements ScanStore {
  constructor(private readonly ctx: SqlContext) {}

  /** On the verdict's hot path. */
  async get(recordId: string): Promise<ScanRow | undefined> {
    const [row] = await this.ctx.compiled.run(
      this.ctx.db,
      'scans.get',
      (db) => db.selectFrom('scans').selectAll().where('record_id', '=', ''),
      [recordId],
    );
    return row;
  }

  /** One upsert per record, in one transaction. */
  async add(increments: readonly ScanIncrement[]): Promise<void> {
    if (increments.length === 0) return;
    await atomically(this.ctx, async (db) => {
      for (const s of increments) {
        await db
          .insertInto('scans')
          .values({ record_id: s.record_id, count: s.count, first_at: s.first_at, last_at: s.last_at })
          .onConflict((oc) =>
            oc
              .column('record_id')
              .doUpdateSet((eb) => ({ count: eb('scans.count', '+', s.count), last_at: s.last_at })),
          )
          .execute();
      }
    });
  }
}
