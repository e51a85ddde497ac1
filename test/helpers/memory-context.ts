/**
 * The service on the in-memory store, for the fast tests: a ServiceContext built as src/runtime.ts
 * builds one, over `new MemoryStorage()` and a clock the test moves by hand. No database, no chain,
 * no HTTP: the service functions are called directly.
 */
import { MemoryStorage } from '../../src/storage/memory/memory-storage.ts';
import { type ServiceContext, createServiceContext } from '../../src/service/context.ts';
import { createMerchant, verifyMerchant, type Merchant } from '../../src/service/merchants.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import type { BatchChange, BatchRow, BatchStatus, LeaseFence } from '../../src/storage/rows.ts';
import { TEST_EVIDENCE } from './client.ts';

/** A clock that stands still until told to move. */
export class ManualClock {
  constructor(public ms = Date.parse('2025-01-01T00:00:00.000Z')) {}

  now = (): Date => new Date(this.ms);

  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface MemoryService {
  ctx: ServiceContext;
  storage: MemoryStorage;
  clock: ManualClock;
}

/**
 * A ServiceContext over a fresh MemoryStorage. Scans flush only when a test calls
 * `ctx.scans.flush()` (the write-behind timer is an hour), so no timer fires during a test.
 */
export function memoryService(opts: { proofCache?: boolean } = {}): MemoryService {
  const storage = new MemoryStorage();
  const clock = new ManualClock();
  const ctx = createServiceContext({
    storage,
    keys: ServerKey.generate(),
    now: clock.now,
    publicBaseUrl: 'http://proofmark.test',
    scanFlushMs: 3_600_000,
    ...(opts.proofCache !== undefined && { proofCache: opts.proofCache }),
  });
  return { ctx, storage, clock };
}

/** A merchant admitted and verified with evidence, as the operator does it, and its API key. */
export async function verifiedMerchant(
  ctx: ServiceContext,
  name = 'Test Merchant 测试商家',
): Promise<{ merchant: Merchant; apiKey: string }> {
  const { merchant, apiKey } = await createMerchant(ctx, { name });
  await verifyMerchant(ctx, merchant.id, TEST_EVIDENCE);
  return { merchant: (await ctx.storage.merchants.get(merchant.id))!, apiKey };
}

/** The anchorer lease, taken for a test that moves batches by hand. */
async function takeAnchorerLease(storage: MemoryStorage): Promise<LeaseFence> {
  const fence = await storage.leases.acquire('anchorer', 'test', 3_600_000, 0);
  if (!fence) throw new Error('the anchorer lease is held by someone else');
  return fence;
}

/** What each step towards final writes, as the anchorer would, with made-up chain fields. */
const STEPS: ReadonlyArray<{ from: BatchStatus; to: BatchStatus; change: (b: BatchRow) => BatchChange }> = [
  {
    from: 'sealed',
    to: 'submitted',
    change: (b) => ({ raw_tx: '0x02', tx_hash: `0x${b.id.toString(16).padStart(64, '0')}` }),
  },
  {
    from: 'submitted',
    to: 'anchored',
    change: (b) => ({
      block_number: 100 + b.id,
      block_hash: `0x${'b1'.repeat(32)}`,
      anchored_at: '2025-01-01T00:00:30.000Z',
    }),
  },
  {
    from: 'anchored',
    to: 'final',
    change: (b) => ({ final_at: '2025-01-01T00:01:00.000Z', chain_root: b.root }),
  },
];

/**
 * Moves batch `id` forward through the anchorer's states up to `to`, without a chain: for tests of
 * what readers see at each state. `last` overrides what the final step writes.
 */
export async function moveBatch(
  storage: MemoryStorage,
  id: number,
  to: BatchStatus,
  last: BatchChange = {},
): Promise<BatchRow> {
  const fence = await takeAnchorerLease(storage);
  let batch = (await storage.batches.get(id))!;
  for (const step of STEPS) {
    if (batch.status === to) break;
    if (batch.status !== step.from) continue;
    const change = { ...step.change(batch), ...(step.to === to && last) };
    if (!(await storage.batches.transition(id, step.from, step.to, change, fence))) {
      throw new Error(`batch ${id} did not move from ${step.from} to ${step.to}`);
    }
    batch = (await storage.batches.get(id))!;
  }
  if (batch.status !== to) throw new Error(`batch ${id} is ${batch.status}, not ${to}`);
  return batch;
}
