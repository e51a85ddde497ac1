/**
 * The browser check's judgement (src/http/page/browser-verdict.ts), in Node on real directory
 * proofs: every pairing of the page's verdict with the proven state, and the answers that prove
 * nothing (stale, relabelled, forged, another record's, malformed). Chromium runs the same code
 * bundled (page-browser-check.test.ts).
 */
import { describe, expect, it } from 'vitest';
import {
  encodeDirectoryProof,
  InMemoryDirectory,
  type DirectoryValue,
} from '../../src/core/directory/index.ts';
import { bytesToHex, type Hex } from '../../src/core/hex.ts';
import { recordKey } from '../../src/core/leaf.ts';
import { STATE_PROOF_FORMAT } from '../../src/core/state.ts';
import { judgeStateProof, type ChainState } from '../../src/http/page/browser-verdict.ts';

const leaf = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`;
const dir = new InMemoryDirectory();
const root1 = dir.apply([
  { key: recordKey('rec-a'), value: { seq: 0, leaf: leaf(1), ended: false } },
  { key: recordKey('rec-b'), value: { seq: 0, leaf: leaf(2), ended: false } },
]);
const proofAt1 = (id: string) => bytesToHex(encodeDirectoryProof(dir.prove(recordKey(id))));
const oldA = proofAt1('rec-a');
const root2 = dir.apply([{ key: recordKey('rec-b'), value: { seq: 1, leaf: leaf(3), ended: true } }]);
const chain: ChainState = { chainId: 31337, block: 9, batchId: 2, stateRoot: root2 };

function answer(id: string, value: DirectoryValue | null, over: Record<string, unknown> = {}) {
  return {
    format: STATE_PROOF_FORMAT,
    recordId: id,
    recordKey: recordKey(id),
    batchId: 2,
    stateRoot: root2,
    anchor: null,
    value,
    proof: bytesToHex(encodeDirectoryProof(dir.prove(recordKey(id)))),
    ...over,
  };
}
const A = { seq: 0, leaf: leaf(1), ended: false };
const B = { seq: 1, leaf: leaf(3), ended: true };

describe('judgeStateProof', () => {
  it.each([
    ['genuine', 'rec-a', 0, A, 'verified'],
    ['merchant_suspended', 'rec-a', 0, A, 'verified'],
    ['revoked', 'rec-b', 1, B, 'verified'],
    ['pending', 'rec-new', 0, null, 'verified'],
    ['pending', 'rec-a', 1, A, 'verified'],
    ['genuine', 'rec-a', 1, A, 'behind'],
    ['revoked', 'rec-a', 1, A, 'behind'],
    ['genuine', 'rec-b', 1, B, 'disagrees'],
    ['revoked', 'rec-a', 0, A, 'disagrees'],
    ['genuine', 'rec-new', 0, null, 'disagrees'],
    ['genuine', 'rec-b', 0, B, 'disagrees'],
  ] as const)('page says %s for %s at seq %i: %s', (verdict, id, headSeq, value, outcome) => {
    const result = judgeStateProof({ recordId: id, verdict, headSeq }, chain, answer(id, value));
    expect(result.outcome).toBe(outcome);
  });

  it('proves nothing from a stale, relabelled, forged, foreign or malformed answer', () => {
    const claim = { recordId: 'rec-a', verdict: 'genuine', headSeq: 0 };
    const cases: [unknown, string][] = [
      [answer('rec-a', A, { batchId: 1, stateRoot: root1, proof: oldA }), 'stale proof'],
      [answer('rec-a', A, { proof: oldA }), 'mismatch'],
      [answer('rec-a', { ...A, ended: true }), 'mismatch'],
      [answer('rec-a', A, { stateRoot: root1 }), 'mismatch'],
      [answer('rec-b', B), 'for record rec-b'],
      [{ ...answer('rec-a', A), format: 'x' }, 'malformed'],
      [null, 'malformed'],
    ];
    for (const [doc, reason] of cases) {
      const result = judgeStateProof(claim, chain, doc);
      expect(result.outcome).toBe('unavailable');
      expect((result as { reason: string }).reason).toContain(reason);
    }
  });
});
