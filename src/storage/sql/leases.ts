/** LeaseStore on SQL: one row per named lease, holder and fencing token swapped in one UPDATE. */
import type { LeaseFence } from '../rows.ts';
import type { LeaseStore } from '../storage.ts';
import type { SqlContext } from './context.ts';

export class SqlLeaseStore implements LeaseStore {
  constructor(private readonly ctx: SqlContext) {}

  /**
   * Creates the row if there is none, then takes it only where it is ours or expired (the UPDATE's
   * WHERE decides between racing instances), then reads who holds it.
   */
  async acquire(name: string, holder: string, ttlMs: number, nowMs: number): Promise<LeaseFence | null> {
    const { db } = this.ctx;
    const expires = nowMs + ttlMs;
    await db
      .insertInto('leases')
      .values({ name, holder, token: 1, expires_at: expires })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    await db
      .updateTable('leases')
      .set((eb) => ({
        token: eb
          .case()
          .when('holder', '=', holder)
          .then(eb.ref('token'))
          .else(eb('token', '+', 1))
          .end(),
        holder,
        expires_at: expires,
      }))
      .where('name', '=', name)
      .where((eb) => eb.or([eb('holder', '=', holder), eb('expires_at', '<', nowMs)]))
      .execute();
    const row = await db
      .selectFrom('leases')
      .select(['holder', 'token'])
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    return row.holder === holder ? { name, holder, token: Number(row.token) } : null;
  }

  async release(fence: LeaseFence): Promise<void> {
    await this.ctx.db
      .updateTable('leases')
      .set({ expires_at: 0 })
      .where('name', '=', fence.name)
      .where('holder', '=', fence.holder)
      .where('token', '=', fence.token)
      .execute();
  }

  async holds(fence: LeaseFence): Promise<boolean> {
    const row = await this.ctx.db
      .selectFrom('leases')
      .select('name')
      .where('name', '=', fence.name)
      .where('holder', '=', fence.holder)
      .where('token', '=', fence.token)
      .executeTakeFirst();
    return row !== undefined;
  }
}
