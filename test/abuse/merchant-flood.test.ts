/**
 * Issue 13, attack 9: one merchant could refuse service to all. MAX_PENDING_EVENTS is global, so a
 * merchant that filled it got every merchant 503. Replayed against a real `proofmark serve` whose
 * chain is not sealing (so the backlog only grows): one merchant floods registrations from four
 * connections while two others keep writing. With MAX_PENDING_EVENTS_PER_MERCHANT below the global
 * bound, the flooder is refused at its share with a 503 that says it is its own backlog, and the
 * others never are. With the share as large as the global bound (as before), the same flood gets
 * the others refused too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from './requests-target.ts';
import { recordBody } from '../helpers/records.ts';

const GLOBAL = 300;
const SHARE = 100;
const PER_REQUEST = 10;

const targets: Target[] = [];
afterAll(async () => {
  for (const t of targets) await t.close();
});

interface Flood {
  flooderAccepted: number;
  flooderRefusal: { status: number; message: string; code: string; retryAfter: string | null } | null;
  othersAccepted: number;
  othersRefused: number;
}

/** The flood against a fresh instance with these bounds. */
async function flood(share: number): Promise<Flood> {
  const target = await startTarget(
    {
      MAX_PENDING_EVENTS: String(GLOBAL),
      MAX_PENDING_EVENTS_PER_MERCHANT: String(share),
      BATCH_MAX_AGE_MS: '86400000',
      BATCH_MAX_LEAVES: '1000000',
      RATE_LIMIT_MERCHANT_PER_MINUTE: '0',
    },
    `merchant-flood-${share}`,
  );
  targets.push(target);
  const flooder = await target.merchant('Flood Shop');
  const others = [await target.merchant('Quiet Shop A'), await target.merchant('Quiet Shop B')];
  let n = 0;
  const register = async (apiKey: string) => {
    const records = Array.from({ length: PER_REQUEST }, () => recordBody(`r-${n++}`));
    const res = await fetch(`${target.url}/v1/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ records }),
    });
    const body = (await res.json()) as { message: string; code: string };
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
  };

  const result: Flood = { flooderAccepted: 0, flooderRefusal: null, othersAccepted: 0, othersRefused: 0 };
  let flooding = true;
  const flooders = Array.from({ length: 4 }, async () => {
    while (flooding) {
      const res = await register(flooder.apiKey);
      if (res.status === 201) {
        result.flooderAccepted += PER_REQUEST;
      } else {
        expect(res.status).toBe(503);
        result.flooderRefusal = { status: res.status, retryAfter: res.retryAfter, ...res.body };
        flooding = false;
      }
    }
  });
  const quiet = others.map(async (other) => {
    for (let i = 0; i < 8; i++) {
      const res = await register(other.apiKey);
      if (res.status === 201) result.othersAccepted += PER_REQUEST;
      else result.othersRefused += PER_REQUEST;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });
  await Promise.all([...flooders, ...quiet]);
  // The flood has stopped; the others write on.
  for (const other of others) {
    const res = await register(other.apiKey);
    if (res.status === 201) result.othersAccepted += PER_REQUEST;
    else result.othersRefused += PER_REQUEST;
  }
  return result;
}

describe('one merchant flooding the anchoring backlog (issue 13, attack 9)', () => {
  it('is refused at its own share; every other merchant keeps writing', async () => {
    const result = await flood(SHARE);
    console.log(`MAX_PENDING_EVENTS ${GLOBAL}, per merchant ${SHARE}:`, JSON.stringify(result));
    expect(result.flooderRefusal).toMatchObject({
      status: 503,
      code: 'backlog_full',
      message: expect.stringMatching(
        /^your anchoring backlog is full: \d+ of your events wait \(at most 100 per merchant\); other merchants are not affected/,
      ),
    });
    expect(Number(result.flooderRefusal!.retryAfter)).toBeGreaterThan(0);
    // Soft, as the global bound is: requests already past the check complete (four connections).
    expect(result.flooderAccepted).toBeGreaterThanOrEqual(SHARE);
    expect(result.flooderAccepted).toBeLessThanOrEqual(SHARE + 4 * PER_REQUEST);
    expect(result.othersRefused).toBe(0);
    expect(result.othersAccepted).toBe(2 * 9 * PER_REQUEST);
  }, 120_000);

  it('before: with only the global bound, the same flood got the other merchants refused', async () => {
    const result = await flood(GLOBAL);
    console.log(`MAX_PENDING_EVENTS ${GLOBAL}, per merchant ${GLOBAL} (as before):`, JSON.stringify(result));
    expect(result.flooderRefusal?.message).toMatch(/^anchoring is behind/);
    expect(result.othersRefused).toBeGreaterThan(0);
  }, 120_000);
});
