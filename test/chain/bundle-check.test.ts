/**
 * POST /v1/verify: any proofmark.bundle.v1 checked against the chain. A real anchored bundle is
 * valid; each way of tampering with one is caught with its own failure code, including bundles that
 * are consistent in themselves but name a root the chain does not hold for that batch id.
 * SQLite: the chain checks do not touch storage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyBundleOnChain } from '../../src/chain/bundle-check.ts';
import {
  bytesToHex,
  eventLeaf,
  hashPair,
  hexToBytes,
  type Hex,
  type ProofBundleV1,
} from '../../src/core/index.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody, registerMany } from '../helpers/records.ts';

describe('POST /v1/verify against the chain (sqlite)', () => {
  let h: Harness;
  let apiKey: string;
  let good: ProofBundleV1;
  let inBatch2: ProofBundleV1;
  let pending: ProofBundleV1;

  const bundlesOf = async (id: string) =>
    (await h.call('GET', `/v1/records/${id}/proofs`)).json().bundles as ProofBundleV1[];
  const check = async (bundle: unknown) => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/verify',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(bundle),
    });
    expect(res.statusCode).toBe(200);
    return res.json() as { valid: boolean; failure?: string; reason?: string; confirmations?: number };
  };
  const copy = (): ProofBundleV1 => structuredClone(good);
  const flip = (hex: string): Hex => `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}` as Hex;

  beforeAll(async () => {
    h = await startHarness();
    ({ apiKey } = await h.verifiedMerchant('Bundle Shop'));
    const first = await registerMany(h, apiKey, 'bundle-a', 6);
    const sold = await h.call('POST', `/v1/records/${first[3]}/events`, {
      token: apiKey,
      body: { type: 'sold', data: { channel: '李四' } },
    });
    if (sold.statusCode !== 201) throw new Error(sold.body);
    await h.sealAndWaitFinal();
    const second = await registerMany(h, apiKey, 'bundle-b', 5);
    await h.sealAndWaitFinal();
    good = (await bundlesOf(first[3]!))[1]!;
    inBatch2 = (await bundlesOf(second[0]!))[0]!;
    const late = await h.call('POST', '/v1/records', {
      token: apiKey,
      body: { records: [recordBody('bundle-c')] },
    });
    pending = (await bundlesOf(late.json().records[0].id))[0]!;
  });
  afterAll(async () => h?.close());

  it('a real anchored bundle is valid', async () => {
    expect(good).toMatchObject({ seq: 1, batchId: 1, anchor: { status: 'final' } });
    expect(good.proof!.length).toBeGreaterThan(1);
    const res = await check(good);
    // The sale (seq 1) is its record's latest event, so the record is current as of the last batch.
    expect(res).toEqual({
      valid: true,
      confirmations: expect.any(Number),
      freshness: { status: 'current', asOfBatch: expect.any(Number), latestSeq: 1, ended: false },
    });
    expect(res.confirmations).toBeGreaterThanOrEqual(1);
    expect(await check(inBatch2)).toMatchObject({ valid: true });
    // The same check the API makes, straight against the registry.
    expect(await verifyBundleOnChain(h.runtime.services.chain, good, 1)).toMatchObject({
      valid: true,
      blockNumber: good.anchor.blockNumber,
    });
  });

  it('content, seq, record id or previous leaf changed: leaf_mismatch', async () => {
    const cases: Array<[string, (b: ProofBundleV1) => void]> = [
      ['content', (b) => ((b.content.data as Record<string, unknown>).channel = '王五')],
      ['content type', (b) => (b.content.type = 'refunded')],
      ['seq', (b) => (b.seq = 2)],
      ['recordId', (b) => (b.recordId = inBatch2.recordId)],
      ['prevLeaf', (b) => (b.prevLeaf = flip(b.prevLeaf))],
      ['leaf', (b) => (b.leaf = flip(b.leaf))],
    ];
    for (const [what, tamper] of cases) {
      const b = copy();
      tamper(b);
      expect(await check(b), what).toMatchObject({ valid: false, failure: 'leaf_mismatch' });
    }
  });

  it('a proof element changed or dropped, or the root changed: proof_mismatch', async () => {
    const changed = copy();
    changed.proof![0] = flip(changed.proof![0]!);
    const dropped = copy();
    dropped.proof!.pop();
    const reordered = copy();
    reordered.proof!.reverse();
    const root = copy();
    root.root = flip(root.root!);
    for (const [what, b] of Object.entries({ changed, dropped, reordered, root })) {
      const res = await check(b);
      expect(res, what).toMatchObject({ valid: false, failure: 'proof_mismatch' });
      expect(res.reason).toMatch(/proof does not reach the root/);
    }
  });

  it('a batch id whose anchored root is another one: root_not_on_chain', async () => {
    // batchId points at batch 2, anchored with a different root.
    const moved = copy();
    moved.batchId = inBatch2.batchId;
    expect(moved.batchId).toBe(2);
    expect(await check(moved)).toMatchObject({ valid: false, failure: 'root_not_on_chain' });

    // A batch id never anchored.
    const future = copy();
    future.batchId = 999;
    expect(await check(future)).toMatchObject({ valid: false, failure: 'root_not_on_chain' });

    // A self-consistent forgery: a made-up sibling and the root it yields, under a real batch id.
    const forged = copy();
    const sibling = bytesToHex(new Uint8Array(32).fill(7));
    forged.proof = [sibling];
    forged.root = bytesToHex(hashPair(hexToBytes(forged.leaf), hexToBytes(sibling)));
    expect(await check(forged)).toMatchObject({ valid: false, failure: 'root_not_on_chain' });

    // Invented content with a correctly computed leaf, in a one-leaf "batch" of its own.
    const invented = copy();
    invented.content = { ...invented.content, data: { buyer: 'forger' } };
    invented.leaf = eventLeaf(invented);
    invented.proof = [];
    invented.root = invented.leaf;
    expect(await check(invented)).toMatchObject({ valid: false, failure: 'root_not_on_chain' });
  });

  it('another chain or contract: chain_id_mismatch, contract_mismatch', async () => {
    const chain = copy();
    chain.anchor.chainId = 1;
    expect(await check(chain)).toMatchObject({ valid: false, failure: 'chain_id_mismatch' });
    const contract = copy();
    contract.anchor.contract = '0x000000000000000000000000000000000000dead';
    expect(await check(contract)).toMatchObject({ valid: false, failure: 'contract_mismatch' });
    // The contract address is compared without regard to checksum case.
    const upper = copy();
    upper.anchor.contract = `0x${upper.anchor.contract.slice(2).toUpperCase()}` as Hex;
    expect(await check(upper)).toMatchObject({ valid: true });
  });

  it('malformed bundles and pending ones are not valid', async () => {
    expect(await check(pending)).toMatchObject({ valid: false, failure: 'not_anchored' });
    const cases: Array<[string, unknown]> = [
      ['empty object', {}],
      ['array', [good]],
      ['string', 'proofmark.bundle.v1'],
      ['wrong format', { ...copy(), format: 'proofmark.bundle.v2' }],
      ['no salt', { ...copy(), content: { ...copy().content, salt: undefined } }],
      ['proof not hex', { ...copy(), proof: ['0x1234'] }],
      ['batch id zero', { ...copy(), batchId: 0 }],
      ['uppercase leaf', { ...copy(), leaf: good.leaf.toUpperCase().replace('0X', '0x') }],
    ];
    for (const [what, b] of cases) {
      expect(await check(b), what).toMatchObject({ valid: false, failure: 'malformed' });
    }
    const broken = await h.app.inject({
      method: 'POST',
      url: '/v1/verify',
      headers: { 'content-type': 'application/json' },
      payload: '{"format": "proofmark.bundle.v1",',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().code).toBe('invalid_json');
  });
});
