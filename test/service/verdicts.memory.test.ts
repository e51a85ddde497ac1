/**
 * Verdicts (src/service/verdicts.ts) on the memory store, with a chain that only answers rootOf:
 * pending until the issuance is final, genuine once final and the stored proof reaches the chain's
 * root, invalid when it does not, revoked, merchant_suspended, not_found; and the scans a verdict
 * counts. The HTTP and SQL side is test/service/verdicts.test.ts.
 */
import { sealBatch } from '../../src/service/sealing.ts';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AnchorChain } from '../../src/chain/registry.ts';
import type { Hex } from '../../src/core/index.ts';
import { strikeMerchant } from '../../src/service/merchants.ts';
import { appendEvent } from '../../src/service/record-events.ts';
import { registerRecords } from '../../src/service/registration.ts';
import { checkSecret } from '../../src/service/secrets.ts';
import { verdictFor } from '../../src/service/verdicts.ts';
import { memoryService, moveBatch, verifiedMerchant } from '../helpers/memory-context.ts';
import { outcome } from '../helpers/outcome.ts';
import { recordBody } from '../helpers/records.ts';

const OTHER_ROOT = `0x${'ee'.repeat(32)}` as Hex;

/**
 * A chain that answers rootOf from `roots` (zero for an id it has not anchored) and records each
 * question; a verdict asks nothing else, so anything else fails the test.
 */
function rootsChain(roots = new Map<number, Hex>()): AnchorChain & { asked: number[] } {
  const asked: number[] = [];
  const unused = () => {
    throw new Error('a verdict reads only rootOf from the chain');
  };
  return {
    asked,
    chainId: 31337,
    contract: `0x${'42'.repeat(20)}` as Hex,
    rootOf: async (batchId) => {
      asked.push(batchId);
      return roots.get(batchId) ?? (`0x${'00'.repeat(32)}` as Hex);
    },
    nextBatchId: unused,
    headNumber: unused,
    blockHash: unused,
    signAnchor: unused,
    baseFee: unused,
    signReplacement: unused,
    broadcast: unused,
    receipt: unused,
    transaction: unused,
    findAnchor: unused,
    anchorsStateRoots: unused,
    findStateRoot: unused,
    anchorIn: unused,
    anchorEvents: unused,
    pendingNonce: unused,
    minedNonce: unused,
    taggedBlock: unused,
    balance: unused,
    close: unused,
  };
}

/** A logger whose lines the test reads. */
function capturingLog() {
  const lines: Array<{ level: number; msg: string; recordId?: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

/** A service with one verified merchant and one registered licence (secret 'KEY-1'), unbatched. */
async function oneLicence() {
  const service = memoryService();
  const { ctx } = service;
  const { merchant } = await verifiedMerchant(ctx);
  const [record] = (await registerRecords(ctx, merchant, [recordBody('v-1', { secret: 'KEY-1' })])).records;
  return { ...service, merchant, id: record!.id, ...capturingLog() };
}

const look = { scan: null };

describe('verdicts on the memory store', () => {
  it('not_found for a code nothing was registered under', async () => {
    const { ctx } = memoryService();
    const { log } = capturingLog();
    expect(await verdictFor(ctx, rootsChain(), log, 'unknown', look)).toEqual({
      verdict: 'not_found',
      recordId: 'unknown',
      reason: 'no item was registered under this code',
    });
  });

  it('pending while the issuance is unbatched, sealed, submitted or anchored; genuine once final', async () => {
    const { ctx, storage, id, log } = await oneLicence();
    const chain = rootsChain();
    const verdict = async () => (await verdictFor(ctx, chain, log, id, look)).verdict;
    expect(await verdict()).toBe('pending');
    await sealBatch(ctx, 100);
    expect(await verdict()).toBe('pending');
    for (const state of ['submitted', 'anchored'] as const) {
      await moveBatch(storage, 1, state);
      expect(await verdict(), state).toBe('pending');
    }
    await moveBatch(storage, 1, 'final');
    const genuine = await verdictFor(ctx, chain, log, id, look);
    expect(genuine).toMatchObject({
      verdict: 'genuine',
      reason: 'issued by a merchant in good standing and anchored on chain',
      record: { id },
      merchant: { status: 'verified' },
      issuance: { seq: 0, batch_status: 'final' },
    });
    // The root read back at finality is kept: the verdict asks the chain nothing.
    expect(chain.asked).toEqual([]);
  });

  it("a final batch without a stored chain root: the chain's root is asked, and must be reached", async () => {
    const { ctx, storage, id, log, lines } = await oneLicence();
    const batch = (await sealBatch(ctx, 100))!;
    await moveBatch(storage, batch.id, 'final', { chain_root: null });
    const agrees = rootsChain(new Map([[batch.id, batch.root as Hex]]));
    expect((await verdictFor(ctx, agrees, log, id, look)).verdict).toBe('genuine');
    expect(agrees.asked).toEqual([batch.id]);

    const disagrees = rootsChain(new Map([[batch.id, OTHER_ROOT]]));
    expect(await verdictFor(ctx, disagrees, log, id, look)).toMatchObject({
      verdict: 'invalid',
      reason: 'the stored proof does not match the root on chain',
    });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        msg: 'stored proof does not reach the root on chain',
        recordId: id,
      }),
    ]);
  });

  it('invalid when the root stored at finality is not the one the stored proof reaches', async () => {
    const { ctx, storage, merchant, id, log } = await oneLicence();
    await registerRecords(ctx, merchant, [recordBody('v-2')]);
    await sealBatch(ctx, 100);
    await moveBatch(storage, 1, 'final', { chain_root: OTHER_ROOT });
    const chain = rootsChain();
    expect((await verdictFor(ctx, chain, log, id, look)).verdict).toBe('invalid');
    expect(chain.asked).toEqual([]);
  });

  it('revoked and refunded items are revoked at once, before the event is anchored', async () => {
    const { ctx, storage, merchant, id, log } = await oneLicence();
    await sealBatch(ctx, 100);
    await moveBatch(storage, 1, 'final');
    await appendEvent(ctx, merchant, id, 'revoked', { reason: 'chargeback' });
    expect(await verdictFor(ctx, rootsChain(), log, id, look)).toMatchObject({
      verdict: 'revoked',
      reason: 'the item was revoked',
    });

    const [sold] = (await registerRecords(ctx, merchant, [recordBody('v-refund')])).records;
    await appendEvent(ctx, merchant, sold!.id, 'sold', undefined);
    await appendEvent(ctx, merchant, sold!.id, 'refunded', undefined);
    expect(await verdictFor(ctx, rootsChain(), log, sold!.id, look)).toMatchObject({
      verdict: 'revoked',
      reason: 'the item was refunded',
    });
  });

  it("a suspended merchant's items are merchant_suspended, genuine or revoked alike", async () => {
    const { ctx, storage, merchant, id, log } = await oneLicence();
    const [revoked] = (await registerRecords(ctx, merchant, [recordBody('v-rev')])).records;
    await appendEvent(ctx, merchant, revoked!.id, 'revoked', undefined);
    await sealBatch(ctx, 100);
    await moveBatch(storage, 1, 'final');
    expect((await verdictFor(ctx, rootsChain(), log, id, look)).verdict).toBe('genuine');
    await strikeMerchant(ctx, merchant.id, 'one');
    await strikeMerchant(ctx, merchant.id, 'two');
    for (const recordId of [id, revoked!.id]) {
      expect(await verdictFor(ctx, rootsChain(), log, recordId, look)).toMatchObject({
        verdict: 'merchant_suspended',
        reason: 'the merchant that issued this item is suspended',
      });
    }
  });

  it('a verdict that counts a scan adds one (from a new network); a look does not', async () => {
    const { ctx, clock, id, log } = await oneLicence();
    let networks = 0;
    const fromNewNetwork = () => ({ method: 'GET', ip: `10.0.${++networks}.1`, headers: {} });
    const scan = () => verdictFor(ctx, rootsChain(), log, id, { scan: fromNewNetwork() });
    expect((await scan()).scans).toEqual({ count: 1, firstAt: clock.now().toISOString(), suspicious: false });
    clock.advance(1_000);
    expect((await scan()).scans).toMatchObject({ count: 2, firstAt: '2025-01-01T00:00:00.000Z' });
    expect((await verdictFor(ctx, rootsChain(), log, id, look)).scans).toMatchObject({ count: 2 });
    await ctx.scans.flush();
    expect((await verdictFor(ctx, rootsChain(), log, id, look)).scans).toMatchObject({ count: 2 });
  });

  it('checks a secret against the commitment; a record without one matches nothing', async () => {
    const { ctx, merchant, id } = await oneLicence();
    expect((await checkSecret(ctx, id, 'KEY-1')).match).toBe(true);
    expect((await checkSecret(ctx, id, 'KEY-2')).match).toBe(false);
    const [plain] = (await registerRecords(ctx, merchant, [recordBody('no-secret')])).records;
    expect(await checkSecret(ctx, plain!.id, 'KEY-1')).toEqual({ match: false, tries: null });
    // Issue 13: a blank secret is refused before anything is compared.
    expect(await outcome(checkSecret(ctx, plain!.id, ' '))).toBe('400 secret_empty');
    expect(await outcome(checkSecret(ctx, 'unknown', 'KEY-1'))).toBe('404 record_not_found');
  });
});
