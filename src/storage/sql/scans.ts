/** ScanStore on SQL: one row of totals per scanned record, and the sightings that make it grow. */
import type { ScanRow, ScanSighting } from '../rows.ts';
import type { ScanStore } from '../storage.ts';
import { atomically, slices, type SqlContext } from './context.ts';
import { pruneSightingsSql, rowsPerInsert, write } from './dialect.ts';

const SIGHTINGS_PER_INSERT = rowsPerInsert(4, 1000);

/** What one write adds to one record's row. */
interface Growth {
  count: number;
  firstAt: string;
  lastAt: string;
}

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

  /**
   * The sightings go in with ON CONFLICT DO NOTHING, and RETURNING names those that were new: on
   * PostgreSQL a second writer inserting the same key waits for the first to commit and then skips
   * it, so a scanner seen by two instances at once is counted once. Then one upsert per record that
   * gained; last_at only moves forward, whatever order instances' clocks write in.
   */
  async addSightings(sightings: readonly ScanSighting[]): Promise<number> {
    if (sightings.length === 0) return 0;
    return write(() =>
      atomically(this.ctx, async (db) => {
        const growth = new Map<string, Growth>();
        for (const slice of slices(sightings, SIGHTINGS_PER_INSERT)) {
          const added = await db
            .insertInto('scan_sightings')
            .values(slice.map((s) => ({ ...s })))
            .onConflict((oc) => oc.doNothing())
            .returning(['record_id', 'seen_at'])
            .execute();
          for (const { record_id, seen_at } of added) {
            const g = growth.get(record_id);
            if (!g) growth.set(record_id, { count: 1, firstAt: seen_at, lastAt: seen_at });
            else {
              g.count++;
              if (seen_at < g.firstAt) g.firstAt = seen_at;
              if (seen_at > g.lastAt) g.lastAt = seen_at;
            }
          }
        }
        let total = 0;
        for (const [recordId, g] of growth) {
          total += g.count;
          await db
            .insertInto('scans')
            .values({ record_id: recordId, count: g.count, first_at: g.firstAt, last_at: g.lastAt })
            .onConflict((oc) =>
              oc.column('record_id').doUpdateSet((eb) => ({
                count: eb('scans.count', '+', g.count),
                last_at: eb
                  .case()
                  .when('scans.last_at', '<', g.lastAt)
                  .then(g.lastAt)
                  .else(eb.ref('scans.last_at'))
                  .end(),
              })),
            )
            .execute();
        }
        return total;
      }),
    );
  }

  /** A bounded delete (by primary key, through a limited subquery), so pruning never holds the database long. */
  async pruneSightings(beforeWindow: number, limit: number): Promise<number> {
    const result = await pruneSightingsSql(beforeWindow, Math.max(0, limit)).execute(this.ctx.db);
    return Number(result.numAffectedRows ?? 0);
  }
}
