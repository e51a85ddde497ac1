/** LeaseStore: taking, renewing, handing over and releasing named leases, by the clock passed in. */
import { expect, it } from 'vitest';
import type { LeaseFence } from '../../../src/storage/rows.ts';
import type { Storage } from '../../../src/storage/storage.ts';
import { NOW_MS } from '../fixtures.ts';

const TTL = 100;

export function leaseBehaviour(storage: () => Storage): void {
  /** Takes lease 'l' for `holder` at NOW_MS + `ms`, or fails the test. */
  async function take(holder: string, ms: number): Promise<LeaseFence> {
    const fence = await storage().leases.acquire('l', holder, TTL, NOW_MS + ms);
    expect(fence).toMatchObject({ name: 'l', holder });
    return fence!;
  }

  it('grants a free lease and refuses another holder until it expires', async () => {
    const s = storage();
    const a = await take('a', 0);
    expect(await s.leases.holds(a)).toBe(true);
    expect(await s.leases.acquire('l', 'b', TTL, NOW_MS + TTL - 1)).toBeNull();
    expect(await s.leases.holds(a)).toBe(true);
  });

  it('keeps the token across renewals, and each renewal pushes the expiry back', async () => {
    const s = storage();
    const a = await take('a', 0);
    const renewed = await take('a', 60);
    expect(renewed).toEqual(a);
    // Without the renewal the lease would have expired at 100.
    expect(await s.leases.acquire('l', 'b', TTL, NOW_MS + 150)).toBeNull();
    const b = await take('b', 161);
    expect(b.token).toBeGreaterThan(a.token);
  });

  it('passes an expired lease to the next holder with a greater token; the former fence stops holding', async () => {
    const s = storage();
    const a = await take('a', 0);
    const b = await take('b', TTL + 1);
    expect(b.token).toBeGreaterThan(a.token);
    expect(await s.leases.holds(a)).toBe(false);
    expect(await s.leases.holds(b)).toBe(true);
    expect(await s.leases.acquire('l', 'a', TTL, NOW_MS + TTL + 2)).toBeNull();

    const a2 = await take('a', 3 * TTL);
    expect(a2.token).toBeGreaterThan(b.token);
    expect(await s.leases.holds(b)).toBe(false);
  });

  it('writes nothing when it refuses: a refused attempt does not extend the lease', async () => {
    const s = storage();
    await take('a', 0);
    expect(await s.leases.acquire('l', 'b', 10 * TTL, NOW_MS + 50)).toBeNull();
    await take('c', TTL + 1);
    expect(await s.leases.acquire('l', 'b', TTL, NOW_MS + TTL + 2)).toBeNull();
  });

  it('on release, lets the next holder in at once', async () => {
    const s = storage();
    const a = await take('a', 0);
    await s.leases.release(a);
    const b = await take('b', 1);
    expect(b.token).toBeGreaterThan(a.token);
    expect(await s.leases.holds(a)).toBe(false);
  });

  it('ignores a release by a fence that no longer holds the lease', async () => {
    const s = storage();
    const a = await take('a', 0);
    const b = await take('b', TTL + 1);
    await s.leases.release(a);
    await s.leases.release({ ...b, token: b.token + 1 });
    expect(await s.leases.holds(b)).toBe(true);
    expect(await s.leases.acquire('l', 'c', TTL, NOW_MS + TTL + 2)).toBeNull();
  });

  it('holds checks holder and token, not expiry', async () => {
    const s = storage();
    const a = await take('a', 0);
    // Long expired, but nobody took it since.
    expect(await s.leases.holds(a)).toBe(true);
    expect(await s.leases.holds({ ...a, token: a.token + 1 })).toBe(false);
    expect(await s.leases.holds({ ...a, holder: 'b' })).toBe(false);
    expect(await s.leases.holds({ ...a, name: 'other' })).toBe(false);
  });

  it('keeps leases of different names apart', async () => {
    const s = storage();
    const a = await take('a', 0);
    const other = await s.leases.acquire('other', 'b', TTL, NOW_MS);
    expect(other).toMatchObject({ name: 'other', holder: 'b' });
    expect(await s.leases.holds(a)).toBe(true);
    expect(await s.leases.holds(other!)).toBe(true);
  });
}
