/**
 * Leader election through the store: a lease with a fencing token. Any number of instances serve
 * the API; the one holding the lease seals and anchors. A lease not renewed within its TTL passes to
 * the next instance that asks, and the token grows, so a paused former leader's writes (which all
 * carry its fence) fail instead of racing the new one.
 */
import type { LeaseFence } from '../storage/rows.ts';
import type { LeaseStore } from '../storage/storage.ts';

export const ANCHORER_LEASE = 'anchorer';

export interface LeaseState {
  holder: string;
  token: number;
}

export class Lease {
  private held: LeaseState | null = null;
  private renewedAt = 0;

  constructor(
    private readonly leases: LeaseStore,
    readonly holder: string,
    readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The fencing token while this instance leads, else null. */
  get token(): number | null {
    return this.held?.token ?? null;
  }

  /** What fences this instance's writes while it leads, else null. */
  get fence(): LeaseFence | null {
    return this.held && { name: ANCHORER_LEASE, ...this.held };
  }

  /**
   * Takes or renews the lease; returns whether this instance leads now. A lease renewed less than a
   * third of its TTL ago is not renewed again (the batcher ticks on every registration).
   */
  async acquire(): Promise<boolean> {
    const now = this.clock();
    if (this.held && now - this.renewedAt < this.ttlMs / 3) return true;
    const fence = await this.leases.acquire(ANCHORER_LEASE, this.holder, this.ttlMs, now);
    this.held = fence && { holder: fence.holder, token: fence.token };
    this.renewedAt = now;
    return this.held !== null;
  }

  /** Gives the lease up at shutdown so another instance takes over at once. */
  async release(): Promise<void> {
    if (!this.held) return;
    await this.leases.release({ name: ANCHORER_LEASE, ...this.held });
    this.held = null;
  }

  /** Forgets the lease without telling the store: what a crashed leader leaves behind (tests). */
  abandon(): void {
    this.held = null;
  }
}
