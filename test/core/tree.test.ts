import { SimpleMerkleTree } from '@openzeppelin/merkle-tree';
import { keccak256 as ethersKeccak } from 'ethers';
import fc from 'fast-check';
import keccak256 from 'keccak256';
import { MerkleTree as ReferenceTree } from 'merkletreejs';
import { describe, expect, it } from 'vitest';
import {
  MAX_LEAVES,
  MerkleTree,
  NODE_SIZE,
  bytesToHex,
  hashPair,
  hexToBytes,
  keccak256 as coreKeccak,
  levelSizes,
  processProof,
  proofPositions,
  type Hex,
  type NodePosition,
} from '../../src/core/index.ts';

// Like OpenZeppelin's merkle-tree: few runs locally, more in CI, FC_NUM_RUNS overrides both.
const numRuns = Number(process.env.FC_NUM_RUNS ?? (process.env.CI ? 150 : 40));
/** Above this size only a sample of proofs is compared (every level is still compared). */
const ALL_PROOFS_UP_TO = 2048;

type Mode = 'random' | 'duplicates' | 'shared-prefix' | 'high-bit';

/** n deterministic leaves from `seed`, shaped by `mode` to stress the byte-order comparison. */
function makeLeaves(n: number, seed: number, mode: Mode): Uint8Array {
  const packed = new Uint8Array(n * NODE_SIZE);
  const input = new Uint8Array(8);
  const view = new DataView(input.buffer);
  view.setUint32(0, seed >>> 0);
  const pool = [0, 1, 2].map((k) => {
    view.setUint32(4, 0xffff_0000 + k);
    return coreKeccak(input);
  });
  for (let i = 0; i < n; i++) {
    view.setUint32(4, i);
    const h = coreKeccak(input);
    switch (mode) {
      case 'random':
        packed.set(h, i * NODE_SIZE);
        break;
      case 'duplicates': // equal siblings: either order gives the same parent
        packed.set(pool[h[0]! % 3]!, i * NODE_SIZE);
        break;
      case 'shared-prefix': // only the last byte differs
        packed.set(pool[0]!, i * NODE_SIZE);
        packed[i * NODE_SIZE + 31] = h[0]!;
        break;
      case 'high-bit': // first bytes 0x7f/0x80: a signed comparison would order them the other way
        packed.set(h, i * NODE_SIZE);
        packed[i * NODE_SIZE] = h[1]! & 1 ? 0x80 : 0x7f;
        break;
    }
  }
  return packed;
}

function referenceOf(packed: Uint8Array): { ref: ReferenceTree; leaves: Buffer[] } {
  const leaves: Buffer[] = [];
  for (let i = 0; i < packed.length; i += NODE_SIZE)
    leaves.push(Buffer.from(packed.subarray(i, i + NODE_SIZE)));
  return { ref: new ReferenceTree(leaves, keccak256, { sortPairs: true }), leaves };
}

function indicesToCheck(n: number, sampleSeed: number): number[] {
  if (n <= ALL_PROOFS_UP_TO) return Array.from({ length: n }, (_, i) => i);
  const picked = new Set([0, 1, n - 2, n - 1, n >>> 1]);
  let x = sampleSeed >>> 0;
  while (picked.size < 200) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    picked.add(x % n);
  }
  return [...picked];
}

/** Sibling positions by plain arithmetic (no bit operations), to compare proofPositions against. */
function slowPositions(leafCount: number, index: number): NodePosition[] {
  const out: NodePosition[] = [];
  for (let level = 0, size = leafCount, i = index; size > 1; level++) {
    const sibling = i % 2 === 0 ? i + 1 : i - 1;
    if (sibling < size) out.push({ level, index: sibling });
    i = Math.floor(i / 2);
    size = Math.ceil(size / 2);
  }
  return out;
}

const h = (label: string): Hex => ethersKeccak(Buffer.from(label)) as Hex;
/** keccak256(min(a,b) ++ max(a,b)) with ethers; lowercase hex compares in byte order. */
const pair = (a: Hex, b: Hex): Hex => ethersKeccak(a < b ? a + b.slice(2) : b + a.slice(2)) as Hex;

describe('MerkleTree against merkletreejs (sortPairs, keccak256)', () => {
  it(`has the same levels, root and proofs for random sizes 1..5000 (${numRuns} runs)`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer(),
        fc.constantFrom<Mode>('random', 'duplicates', 'shared-prefix', 'high-bit'),
        (n, seed, mode) => {
          const packed = makeLeaves(n, seed, mode);
          const tree = MerkleTree.fromPacked(packed);
          const { ref, leaves } = referenceOf(packed);

          expect(tree.leafCount).toBe(n);
          expect(tree.root).toBe(ref.getHexRoot());
          const refLayers = ref.getHexLayers();
          expect(tree.levels.length).toBe(refLayers.length);
          expect(tree.levels.map((l) => l.length / NODE_SIZE)).toEqual(levelSizes(n));
          tree.levels.forEach((level, l) => {
            const nodes = Array.from({ length: level.length / NODE_SIZE }, (_, i) =>
              tree.node({ level: l, index: i }),
            );
            expect(nodes.map(bytesToHex)).toEqual(refLayers[l]);
          });

          for (const i of indicesToCheck(n, seed)) {
            const proof = tree.proof(i);
            expect(proof).toEqual(ref.getHexProof(leaves[i]!, i));
            expect(proof.length).toBe(proofPositions(n, i).length);
            expect(processProof(tree.leaf(i), proof)).toBe(tree.root);
          }
        },
      ),
      { numRuns },
    );
  });

  it('matches exhaustively for every size 1..70 and every index', () => {
    for (let n = 1; n <= 70; n++) {
      const packed = makeLeaves(n, n, 'random');
      const tree = MerkleTree.fromPacked(packed);
      const { ref, leaves } = referenceOf(packed);
      expect(tree.root).toBe(ref.getHexRoot());
      for (let i = 0; i < n; i++) {
        expect(tree.proof(i)).toEqual(ref.getHexProof(leaves[i]!, i));
        expect(ref.verify(tree.proof(i), leaves[i]!, tree.root)).toBe(true);
      }
    }
  });

  it('has proofs that OpenZeppelin verifies (MerkleProof.processProof with sorted pairs)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600 }), fc.integer(), (n, seed) => {
        const tree = MerkleTree.fromPacked(makeLeaves(n, seed, 'random'));
        for (const i of new Set([0, n - 1, (seed >>> 0) % n])) {
          expect(SimpleMerkleTree.verify(tree.root, tree.leaf(i), tree.proof(i))).toBe(true);
        }
        if (n > 1) {
          const other = tree.leaf((1 + (seed >>> 0)) % n);
          if (other !== tree.leaf(0))
            expect(SimpleMerkleTree.verify(tree.root, other, tree.proof(0))).toBe(false);
        }
      }),
      { numRuns },
    );
  });
});

describe('MerkleTree: small trees by hand', () => {
  const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map(h) as [Hex, Hex, Hex, Hex, Hex];

  it('1 leaf: root = leaf, empty proof', () => {
    const tree = MerkleTree.fromLeaves([a]);
    expect(tree.root).toBe(a);
    expect(tree.proof(0)).toEqual([]);
    expect(proofPositions(1, 0)).toEqual([]);
    expect(levelSizes(1)).toEqual([1]);
    expect(tree.levels).toHaveLength(1);
    expect(processProof(a, [])).toBe(a);
  });

  it('2 leaves: root = keccak256(min ++ max), each proof the other leaf', () => {
    const tree = MerkleTree.fromLeaves([a, b]);
    expect(tree.root).toBe(pair(a, b));
    expect(MerkleTree.fromLeaves([b, a]).root).toBe(tree.root);
    expect(tree.proof(0)).toEqual([b]);
    expect(tree.proof(1)).toEqual([a]);
    expect(levelSizes(2)).toEqual([2, 1]);
    expect(proofPositions(2, 0)).toEqual([{ level: 0, index: 1 }]);
    expect(proofPositions(2, 1)).toEqual([{ level: 0, index: 0 }]);
  });

  it('3 leaves: the third is carried up unchanged', () => {
    const tree = MerkleTree.fromLeaves([a, b, c]);
    expect(levelSizes(3)).toEqual([3, 2, 1]);
    expect(tree.leaf(2)).toBe(c);
    expect(bytesToHex(tree.node({ level: 1, index: 1 }))).toBe(c);
    expect(tree.root).toBe(pair(pair(a, b), c));
    expect(tree.proof(0)).toEqual([b, c]);
    expect(tree.proof(2)).toEqual([pair(a, b)]);
    expect(proofPositions(3, 2)).toEqual([{ level: 1, index: 0 }]);
  });

  it('5 leaves: the fifth is carried up twice; index 3 needs three nodes', () => {
    const tree = MerkleTree.fromLeaves([a, b, c, d, e]);
    expect(levelSizes(5)).toEqual([5, 3, 2, 1]);
    expect(tree.root).toBe(pair(pair(pair(a, b), pair(c, d)), e));
    expect(tree.proof(4)).toEqual([pair(pair(a, b), pair(c, d))]);
    expect(proofPositions(5, 4)).toEqual([{ level: 2, index: 0 }]);
    expect(tree.proof(3)).toEqual([c, pair(a, b), e]);
    expect(proofPositions(5, 3)).toEqual([
      { level: 0, index: 2 },
      { level: 1, index: 0 },
      { level: 2, index: 1 },
    ]);
  });

  it('hashes equal siblings once, whatever the order', () => {
    expect(MerkleTree.fromLeaves([a, a]).root).toBe(ethersKeccak(a + a.slice(2)));
    expect(MerkleTree.fromLeaves([a, a, a]).root).toBe(pair(pair(a, a), a));
  });

  it('orders siblings by unsigned bytes', () => {
    const low: Hex = `0x7f${'ff'.repeat(31)}`;
    const high: Hex = `0x80${'00'.repeat(31)}`;
    expect(bytesToHex(hashPair(hexToBytes(high), hexToBytes(low)))).toBe(ethersKeccak(low + high.slice(2)));
    expect(bytesToHex(hashPair(hexToBytes(low), hexToBytes(high)))).toBe(ethersKeccak(low + high.slice(2)));
  });

  it('fromLeaves and fromPacked agree, and leaf(i) gives the leaves back', () => {
    const leaves = [a, b, c, d, e];
    const packed = new Uint8Array(leaves.length * NODE_SIZE);
    leaves.forEach((l, i) => packed.set(hexToBytes(l), i * NODE_SIZE));
    expect(MerkleTree.fromPacked(packed).root).toBe(MerkleTree.fromLeaves(leaves).root);
    expect(leaves.map((_, i) => MerkleTree.fromLeaves(leaves).leaf(i))).toEqual(leaves);
  });

  it('processProof does not reach the root from a wrong leaf or with a wrong proof', () => {
    const tree = MerkleTree.fromLeaves([a, b, c, d, e]);
    const proof = tree.proof(3);
    expect(processProof(d, proof)).toBe(tree.root);
    expect(processProof(c, proof)).not.toBe(tree.root);
    expect(processProof(d, proof.slice(0, 2))).not.toBe(tree.root);
    expect(processProof(d, [proof[1]!, proof[0]!, proof[2]!])).not.toBe(tree.root);
  });
});

describe('levelSizes and proofPositions', () => {
  it.each([0, -1, 1.5, NaN, MAX_LEAVES + 1])('levelSizes rejects %d leaves', (n) => {
    expect(() => levelSizes(n)).toThrow(RangeError);
  });

  it('handles the largest tree the contract accepts (2^32-1 leaves) without overflow', () => {
    const sizes = levelSizes(MAX_LEAVES);
    expect(sizes).toHaveLength(33);
    expect(sizes[1]).toBe(2 ** 31);
    expect(sizes.at(-1)).toBe(1);
    for (const index of [0, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, MAX_LEAVES - 2, MAX_LEAVES - 1]) {
      expect(proofPositions(MAX_LEAVES, index)).toEqual(slowPositions(MAX_LEAVES, index));
    }
    expect(proofPositions(MAX_LEAVES, 2 ** 31)[0]).toEqual({ level: 0, index: 2 ** 31 + 1 });
  });

  it('agrees with plain arithmetic for any size up to 2^32-1 and any index', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: MAX_LEAVES })
          .chain((n) => fc.tuple(fc.constant(n), fc.nat({ max: n - 1 }))),
        ([n, index]) => {
          const positions = proofPositions(n, index);
          expect(positions).toEqual(slowPositions(n, index));
          const sizes = levelSizes(n);
          for (const p of positions) {
            expect(p.index).toBeGreaterThanOrEqual(0);
            expect(p.index).toBeLessThan(sizes[p.level]!);
          }
        },
      ),
      { numRuns: numRuns * 25 },
    );
  });

  it.each([
    [1, 1],
    [1, -1],
    [5, 5],
    [5, 1.5],
    [5, NaN],
  ])('proofPositions(%d, %d) throws a RangeError', (n, index) => {
    expect(() => proofPositions(n, index)).toThrow(RangeError);
  });

  it('proof() and node() reject indices outside the tree', () => {
    const tree = MerkleTree.fromLeaves([h('a'), h('b'), h('c')]);
    expect(() => tree.proof(3)).toThrow(RangeError);
    expect(() => tree.proof(-1)).toThrow(RangeError);
    expect(() => tree.leaf(3)).toThrow(RangeError);
    expect(() => tree.node({ level: 1, index: 2 })).toThrow(RangeError);
    expect(() => tree.node({ level: 3, index: 0 })).toThrow(RangeError);
  });
});

describe('fromPacked and fromLeaves reject bad input', () => {
  it.each([0, 1, 31, 33, 63, 65])('fromPacked rejects %d bytes', (length) => {
    expect(() => MerkleTree.fromPacked(new Uint8Array(length))).toThrow(RangeError);
  });

  it('fromLeaves rejects no leaves and leaves that are not 32 bytes', () => {
    expect(() => MerkleTree.fromLeaves([])).toThrow(RangeError);
    expect(() => MerkleTree.fromLeaves([h('a'), '0xabcd'])).toThrow(RangeError);
    expect(() => MerkleTree.fromLeaves([`${h('a')}00` as Hex, h('b')])).toThrow(RangeError);
    expect(() => MerkleTree.fromLeaves(['0xzz' as Hex])).toThrow(TypeError);
  });
});
