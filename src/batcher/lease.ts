/**
 * Leader election through the database: a lease row with a fencing token. Any number of instances
 * serve the API; the one holding the lease seals and anchors. A lease not renewed within its TTL
 * passes to the next instance that asks, and the token grows, so a paused former leader's writes
 * (which all check holder and token) fail instead of racing the new one.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../storage/schema.ts';

export const ANCHORER_LEASE = 'anchorer';

export interface LeaseState {
  holder: string;
  token: number;
}

export class Lease {
  private held: LeaseState | null = null;
  private renewedAt = 0;

  constructor(
    private readonly db: Kysely<Database>,
    readonly holder: string,
    readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The fencing token while this instance leads, else null. */
  get token(): number | null {
    return this.held?.token ?? null;
  }

  /**
   * Takes or renews the lease; returns whether this instance leads now. A lease renewed less than a
   * third of its TTL ago is not renewed again (the batcher ticks on every registration).
   */
  async acquire(): Promise<boolean> {
    const now = this.clock();
    if (this.held && now - this.renewedAt < this.ttlMs / 3) return true;
    const expires = now + this.ttlMs;
    await this.db
      .insertInto('leases')
      .values({ name: ANCHORER_LEASE, holder: this.holder, token: 1, expires_at: expires })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    await this.db
      .updateTable('leases')
      .set({
        token: sql`CASE WHEN holder = ${this.holder} THEN token ELSE token + 1 END`,
        holder: this.holder,
        expires_at: expires,
      })
      .where('name', '=', ANCHORER_LEASE)
      .where((eb) => eb.or([eb('holder', '=', this.holder), eb('expires_at', '<', now)]))
      .execute();
    const row = await this.db
      .selectFrom('leases')
      .select(['holder', 'token'])
      .where('name', '=', ANCHORER_LEASE)
      .executeTakeFirstOrThrow();
    this.held = row.holder === this.holder ? { holder: row.holder, token: Number(row.token) } : null;
    this.renewedAt = now;
    return this.held !== null;
  }

  /** Gives the lease up at shutdown so another instance takes over at once. */
  async release(): Promise<void> {
    if (!this.held) return;
    await this.db
      .updateTable('leases')
      .set({ expires_at: 0 })
      .where('name', '=', ANCHORER_LEASE)
      .where('holder', '=', this.holder)
      .where('token', '=', this.held.token)
      .execute();
    this.held = null;
  }

  /** Forgets the lease without telling the database: what a crashed leader leaves behind (tests). */
  abandon(): void {
    this.held = null;
  }
}
