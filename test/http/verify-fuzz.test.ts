/**
 * POST /v1/verify against forged and malformed bundles, over a real socket: real bundles of a sealed,
 * final batch, fetched from the API, then changed once each by fast-check (test/helpers/forged-bundles.ts):
 * a bit flipped in the leaf, a proof node, the root, the salt, the contract, the chain id, the batch id,
 * a content member or the record id; members replaced by hostile values of any type, removed or added;
 * proofs of up to 50,000 nodes. The answer is always 200 {valid: false, failure, reason} or a clear 4xx,
 * never a 5xx: a forgery of anything the proof commits to is never valid, while the members the format
 * says are not trusted (txHash, blockNumber) or ignored (unknown members) leave the verdict as it was.
 * The unmodified bundles stay valid, and verifying writes nothing.
 */
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProofBundleV1 } from '../../src/core/index.ts';
import { expectedVerdict, forge, forgeryOf, type Expected, type Forgery } from '../helpers/forged-bundles.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';
import { databaseState, send, sendHostile, type Answer, type DatabaseState, type Tally } from './wire.ts';

const numRuns = Number(process.env.FC_NUM_RUNS ?? (process.env.CI ? 240 : 60));
/** Huge strings: up to the default body limit (4 MiB) and over it. */
const SIZES = [501, 100_000, 1_100_000];
const FAILURES = [
  'malformed',
  'leaf_mismatch',
  'proof_mismatch',
  'not_anchored',
  'chain_id_mismatch',
  'contract_mismatch',
  'root_not_on_chain',
  'not_final',
];

let h: Harness;
let port: number;
/** Issuance and a later event of one record, and the issuance of another (with a secret commitment). */
let bundles: ProofBundleV1[];
let initial: DatabaseState;

beforeAll(async () => {
  h = await startHarness();
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  port = (h.app.server.address() as AddressInfo).port;
  const { apiKey } = await h.verifiedMerchant('Forgery Target 伪造');
  const reg = await h.call('POST', '/v1/records', {
    token: apiKey,
    body: {
      records: [
        recordBody('vf-1', {
          productName: 'Office 2021 专业增强版 🎮',
          metadata: { region: '中国大陆', seats: 1 },
        }),
        recordBody('vf-2', { kind: 'card', secret: '8831 2210 9942' }),
        ...Array.from({ length: 5 }, (_, i) => recordBody(`vf-filler-${i}`)),
      ],
    },
  });
  const [first, second] = reg.json().records.map((r: { id: string }) => r.id);
  await h.call('POST', `/v1/records/${first}/events`, {
    token: apiKey,
    body: { type: 'sold', data: { channel: '张三', price: 1299.5 } },
  });
  await h.sealAndWaitFinal();
  const proofs = async (id: string) => (await h.call('GET', `/v1/records/${id}/proofs`)).json().bundles;
  bundles = [...(await proofs(first)), ...(await proofs(second))];
  expect(bundles.map((b) => [b.seq, b.anchor.status])).toEqual([
    [0, 'final'],
    [1, 'final'],
    [0, 'final'],
  ]);
  initial = await databaseState(h.runtime.storage.db);
});
afterAll(async () => {
  await h?.close();
});

function verify(body: Buffer, tally: Tally): Promise<Answer> {
  return sendHostile(
    h,
    port,
    { method: 'POST', path: '/v1/verify', headers: { 'content-type': 'application/json' }, body },
    tally,
  );
}

/**
 * A 200 says valid with its confirmations and the record's freshness (issue 15), or invalid with a
 * known failure code and a reason.
 */
function verdictOf(answer: Answer, what: string): { valid: boolean; failure?: string } {
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  if (body.valid === true) {
    expect(Object.keys(body).sort(), what).toEqual(['confirmations', 'freshness', 'valid']);
    expect(body.confirmations, what).toBeGreaterThanOrEqual(1);
    expect(['current', 'superseded', 'unconfirmed'], what).toContain(
      (body.freshness as { status?: unknown }).status,
    );
  } else {
    expect(Object.keys(body).sort(), what).toEqual(['failure', 'reason', 'valid']);
    expect(body.valid, what).toBe(false);
    expect(FAILURES, what).toContain(body.failure);
    expect(typeof body.reason === 'string' && body.reason.length > 0, what).toBe(true);
  }
  return body as { valid: boolean; failure?: string };
}

describe('POST /v1/verify', () => {
  it('says valid for every real bundle as served', async () => {
    const tally = { refused: 0, accepted: 0 };
    for (const bundle of bundles) {
      const answer = await verify(Buffer.from(JSON.stringify(bundle)), tally);
      expect(answer.status).toBe(200);
      expect(verdictOf(answer, bundle.recordId)).toMatchObject({ valid: true });
    }
  });

  it(`never calls a forgery of what the proof commits to valid (${numRuns} runs)`, async () => {
    const tally = { refused: 0, accepted: 0 };
    const seen = new Map<Expected, number>();
    await fc.assert(
      fc.asyncProperty(
        fc
          .nat({ max: bundles.length - 1 })
          .chain((i) => fc.tuple(fc.constant(i), forgeryOf(bundles[i]!, SIZES) as fc.Arbitrary<Forgery>)),
        async ([i, forgery]) => {
          const bundle = bundles[i]!;
          const expected = expectedVerdict(bundle, forgery);
          seen.set(expected, (seen.get(expected) ?? 0) + 1);
          const answer = await verify(forge(bundle, forgery), tally);
          const what = `${forgery.kind} ${'path' in forgery ? forgery.path.join('.') : ''} -> ${answer.status} ${answer.text.slice(0, 300)}`;
          if (answer.status >= 400) {
            expect(expected, `${what}: refused, but the format says it is valid`).not.toBe('valid');
            return;
          }
          const verdict = verdictOf(answer, what);
          if (expected === 'invalid') expect(verdict.valid, what).toBe(false);
          if (expected === 'valid') expect(verdict.valid, what).toBe(true);
        },
      ),
      { numRuns },
    );
    expect(seen.get('invalid') ?? 0).toBeGreaterThan(numRuns / 2);
    expect(await databaseState(h.runtime.storage.db)).toEqual(initial);
  });

  it('says why for each kind of forgery, with its own failure code', async () => {
    const tally = { refused: 0, accepted: 0 };
    const [issued, sold] = bundles;
    const cases: Array<[string, ProofBundleV1, Forgery, string]> = [
      ['a bit of the leaf', issued!, { kind: 'flip hex', path: ['leaf'], bit: 0 }, 'leaf_mismatch'],
      [
        'a bit of the salt',
        issued!,
        { kind: 'flip hex', path: ['content', 'salt'], bit: 255 },
        'leaf_mismatch',
      ],
      ['a bit of prevLeaf', sold!, { kind: 'flip hex', path: ['prevLeaf'], bit: 7 }, 'leaf_mismatch'],
      [
        'a bit of a proof node',
        issued!,
        { kind: 'flip hex', path: ['proof', 0], bit: 100 },
        'proof_mismatch',
      ],
      ['a bit of the root', issued!, { kind: 'flip hex', path: ['root'], bit: 31 }, 'proof_mismatch'],
      [
        'a bit of the contract',
        issued!,
        { kind: 'flip hex', path: ['anchor', 'contract'], bit: 3 },
        'contract_mismatch',
      ],
      [
        'a bit of the chain id',
        issued!,
        { kind: 'flip integer', path: ['anchor', 'chainId'], bit: 0 },
        'chain_id_mismatch',
      ],
      [
        'a bit of the batch id',
        issued!,
        { kind: 'flip integer', path: ['batchId'], bit: 40 },
        'root_not_on_chain',
      ],
      ['a bit of seq', sold!, { kind: 'flip integer', path: ['seq'], bit: 1 }, 'leaf_mismatch'],
      [
        'a bit of the record id',
        issued!,
        { kind: 'flip text', path: ['recordId'], index: 3, bit: 5 },
        'leaf_mismatch',
      ],
      [
        'a bit of the product name',
        issued!,
        { kind: 'flip text', path: ['content', 'productName'], index: 2, bit: 0 },
        'leaf_mismatch',
      ],
      ['a proof of 50,000 nodes', issued!, { kind: 'huge proof', nodes: 50_000 }, 'proof_mismatch'],
      ['no salt', issued!, { kind: 'missing', path: ['content', 'salt'] }, 'malformed'],
      ['no anchor', issued!, { kind: 'missing', path: ['anchor'] }, 'malformed'],
    ];
    for (const [what, bundle, forgery, failure] of cases) {
      const answer = await verify(forge(bundle, forgery), tally);
      expect(answer.status, what).toBe(200);
      expect(verdictOf(answer, what), what).toMatchObject({ valid: false, failure });
    }
  });

  it('does not trust txHash or blockNumber and ignores unknown members (docs/proof-format.md §5)', async () => {
    const tally = { refused: 0, accepted: 0 };
    const [issued] = bundles;
    const forgeries: Forgery[] = [
      { kind: 'flip hex', path: ['anchor', 'txHash'], bit: 9 },
      { kind: 'flip integer', path: ['anchor', 'blockNumber'], bit: 20 },
    ];
    for (const forgery of forgeries) {
      const answer = await verify(forge(issued!, forgery), tally);
      expect(verdictOf(answer, forgery.kind)).toMatchObject({ valid: true });
    }
    const extra = { ...issued!, note: 'genuine, trust me', anchor: { ...issued!.anchor, explorer: 'x' } };
    expect(verdictOf(await verify(Buffer.from(JSON.stringify(extra)), tally), 'extra')).toMatchObject({
      valid: true,
    });
  });

  it('refuses bodies that are not one JSON document, and bodies over the limit', async () => {
    const tally = { refused: 0, accepted: 0 };
    const good = JSON.stringify(bundles[0]);
    const cases: Array<[string, Buffer, number]> = [
      ['cut short', Buffer.from(good.slice(0, -1)), 400],
      ['two documents', Buffer.from(good + good), 400],
      ['a __proto__ member', Buffer.from(good.replace('{', '{"__proto__":{"valid":true},')), 400],
      [
        'a constructor.prototype member',
        Buffer.from(good.replace('{', '{"constructor":{"prototype":{"x":1}},')),
        400,
      ],
      ['empty', Buffer.alloc(0), 400],
      ['a proof of 70,000 nodes', forge(bundles[0]!, { kind: 'huge proof', nodes: 70_000 }), 413],
    ];
    for (const [what, body, status] of cases) {
      const answer = await verify(body, tally);
      expect(answer.status, `${what}: ${answer.text.slice(0, 200)}`).toBe(status);
    }
    expect(tally.refused).toBe(cases.length);
  });

  it('still says valid for the real bundles, and nothing was written', async () => {
    const tally = { refused: 0, accepted: 0 };
    for (const bundle of bundles) {
      expect(
        verdictOf(await verify(Buffer.from(JSON.stringify(bundle)), tally), bundle.recordId),
      ).toMatchObject({
        valid: true,
      });
    }
    expect(await databaseState(h.runtime.storage.db)).toEqual(initial);
    const health = await send(port, { method: 'GET', path: '/healthz' });
    expect(health.status).toBe(200);
  });
});
