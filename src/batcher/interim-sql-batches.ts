/**
 * INTERIM, until src/storage's SQL backend lands from its own branch: the three BatchStore methods
 * the anchorer uses, over the Kysely database, and the anchorer lease's fence. It lets batcher.ts and
 * the Hardhat tests run the new anchorer in the meantime. Delete it at merge and give the anchorer
 * the real stores (AnchorerDeps in anchorer.ts).
 */
import type { Kysely } from 'kysely';
import type { LeaseFence } from '../storage/rows.ts';
import type { Database } from '../storage/schema.ts';
import type { AnchorerDeps } from './anchorer.ts';
import { ANCHORER_LEASE, type Lease } from './lease.ts';

export function interimBatchStore(db: Kysely<Database>): AnchorerDeps['batches'] {
  return {
    unfinished: () =>
      db.selectFrom('batches').selectAll().where('status', '!=', 'final').orderBy('id').execute(),
    newestFinal: (limit) =>
      db
        .selectFrom('batches')
        .selectAll()
        .where('status', '=', 'final')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute(),
    async transition(id, from, to, change, fence) {
      const result = await db
        .updateTable('batches')
        .set({ ...change, status: to })
        .where('id', '=', id)
        .where('status', '=', from)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('leases')
              .select('name')
              .where('name', '=', fence.name)
              .where('holder', '=', fence.holder)
              .where('token', '=', fence.token),
          ),
        )
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

/** The fence of `lease` while it is held, else null. */
export function leaseFence(lease: Lease): LeaseFence | null {
  return lease.token === null ? null : { name: ANCHORER_LEASE, holder: lease.holder, token: lease.token };
}
