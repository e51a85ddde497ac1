/** LeaseStore over memory tables. See storage.ts for the contract of each method. */
import type { LeaseFence } from '../rows.ts';
import type { LeaseStore } from '../storage.ts';
import type { MemoryTables } from './tables.ts';

export class MemoryLeaseStore implements LeaseStore {
  constructor(private readonly t: MemoryTables) {}

  /**
   * A lease expiring at T is still held at T and free after it (as the SQL lease took it only when
   * expires_at < now). The first holder gets token 1.
   */
  async acquire(name: string, holder: string, ttlMs: number, nowMs: number): Promise<LeaseFence | null> {
    const lease = this.t.leases.get(name);
    if (lease && lease.holder !== holder && lease.expiresAtMs >= nowMs) return null;
    const token = !lease ? 1 : lease.holder === holder ? lease.token : lease.token + 1;
    this.t.leases.set(name, { name, holder, token, expiresAtMs: nowMs + ttlMs });
    return { name, holder, token };
  }

  async release(fence: LeaseFence): Promise<void> {
    const lease = this.t.leases.get(fence.name);
    if (!lease || !fences(lease, fence)) return;
    this.t.leases.set(fence.name, { ...lease, expiresAtMs: Number.NEGATIVE_INFINITY });
  }

  async holds(fence: LeaseFence): Promise<boolean> {
    const lease = this.t.leases.get(fence.name);
    return lease !== undefined && fences(lease, fence);
  }
}

/** Whether `fence` names the lease's current holder and token. */
export function fences(lease: { holder: string; token: number }, fence: LeaseFence): boolean {
  return lease.holder === fence.holder && lease.token === fence.token;
}

/** Whether `fence` still holds its lease in `t`: what every fenced write checks. */
export function holdsLease(t: MemoryTables, fence: LeaseFence): boolean {
  const lease = t.leases.get(fence.name);
  return lease !== undefined && fences(lease, fence);
}
