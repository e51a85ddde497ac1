/**
 * The batch Merkle tree: leaves in batch order; a parent is keccak256(min(a,b) ++ max(a,b)) by byte
 * order; an odd node at the end of a level is carried up unchanged; a one-leaf tree's root is the leaf.
 * This is merkletreejs `new MerkleTree(leaves, keccak256, { sortPairs: true })` over pre-hashed leaves,
 * and its proofs verify with OpenZeppelin's MerkleProof.
 *
 * Levels are flat byte arrays (32 bytes a node), so a 1M-leaf tree is ~64 MB in a handful of objects.
 */
import { bytesToHex, compareBytes, hexToBytes, type Hex } from './hex.ts';
import { keccak256 } from './keccak.ts';

export const NODE_SIZE = 32;
/** The contract takes leafCount as uint32. */
export const MAX_LEAVES = 0xffff_ffff;

/** Where a proof's sibling sits: level 0 holds the leaves. */
export interface NodePosition {
  level: number;
  index: number;
}

/** How many nodes each level holds, leaves first, root last. */
export function levelSizes(leafCount: number): number[] {
  assertLeafCount(leafCount);
  const sizes = [leafCount];
  for (let n = leafCount; n > 1;) {
    n = Math.ceil(n / 2);
    sizes.push(n);
  }
  return sizes;
}

/**
 * Positions of the siblings that make up the proof of leaf `index`, bottom up. A node carried up
 * unchanged has no sibling at that level and adds nothing. Storage layers fetch exactly these nodes.
 */
export function proofPositions(leafCount: number, index: number): NodePosition[] {
  const sizes = levelSizes(leafCount);
  if (!Number.isInteger(index) || index < 0 || index >= leafCount) {
    throw new RangeError(`leaf index ${index} is outside a tree of ${leafCount} leaves`);
  }
  const out: NodePosition[] = [];
  for (let level = 0, i = index; level < sizes.length - 1; level++, i >>>= 1) {
    const sibling = (i ^ 1) >>> 0; // ^ yields int32: without >>> 0, indices >= 2^31 turn negative
    if (sibling < sizes[level]!) out.push({ level, index: sibling });
  }
  return out;
}

function hashPairInto(a: Uint8Array, b: Uint8Array, scratch: Uint8Array): Uint8Array {
  if (compareBytes(a, b) <= 0) {
    scratch.set(a, 0);
    scratch.set(b, 32);
  } else {
    scratch.set(b, 0);
    scratch.set(a, 32);
  }
  return keccak256(scratch);
}

export function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  return hashPairInto(a, b, new Uint8Array(64));
}

export class MerkleTree {
  /** levels[0] = leaves, last = [root]; each a flat array of 32-byte nodes. */
  readonly levels: readonly Uint8Array[];

  private constructor(levels: Uint8Array[]) {
    this.levels = levels;
  }

  /** Builds from leaves packed 32 bytes each, in batch order. The input is kept, not copied. */
  static fromPacked(packed: Uint8Array): MerkleTree {
    if (packed.length % NODE_SIZE !== 0) throw new RangeError('packed leaves must be a multiple of 32 bytes');
    const sizes = levelSizes(packed.length / NODE_SIZE);
    const levels = [packed];
    const scratch = new Uint8Array(64);
    for (let l = 1; l < sizes.length; l++) {
      const below = levels[l - 1]!;
      const belowCount = sizes[l - 1]!;
      const level = new Uint8Array(sizes[l]! * NODE_SIZE);
      for (let i = 0; 2 * i < belowCount; i++) {
        const left = below.subarray(2 * i * NODE_SIZE, (2 * i + 1) * NODE_SIZE);
        if (2 * i + 1 === belowCount) {
          level.set(left, i * NODE_SIZE);
        } else {
          const right = below.subarray((2 * i + 1) * NODE_SIZE, (2 * i + 2) * NODE_SIZE);
          level.set(hashPairInto(left, right, scratch), i * NODE_SIZE);
        }
      }
      levels.push(level);
    }
    return new MerkleTree(levels);
  }

  static fromLeaves(leaves: readonly Hex[]): MerkleTree {
    const packed = new Uint8Array(leaves.length * NODE_SIZE);
    leaves.forEach((leaf, i) => {
      const bytes = hexToBytes(leaf);
      if (bytes.length !== NODE_SIZE) throw new RangeError(`leaf ${i} is ${bytes.length} bytes, not 32`);
      packed.set(bytes, i * NODE_SIZE);
    });
    return MerkleTree.fromPacked(packed);
  }

  get leafCount(): number {
    return this.levels[0]!.length / NODE_SIZE;
  }

  get root(): Hex {
    return bytesToHex(this.levels[this.levels.length - 1]!.subarray(0, NODE_SIZE));
  }

  node(position: NodePosition): Uint8Array {
    const level = this.levels[position.level];
    if (!level || position.index < 0 || (position.index + 1) * NODE_SIZE > level.length) {
      throw new RangeError(`no node at level ${position.level}, index ${position.index}`);
    }
    return level.subarray(position.index * NODE_SIZE, (position.index + 1) * NODE_SIZE);
  }

  leaf(index: number): Hex {
    return bytesToHex(this.node({ level: 0, index }));
  }

  proof(index: number): Hex[] {
    return proofPositions(this.leafCount, index).map((p) => bytesToHex(this.node(p)));
  }
}

/** Folds a proof from `leaf` upwards, as OpenZeppelin's MerkleProof.processProof does. */
export function processProof(leaf: Hex, proof: readonly Hex[]): Hex {
  let node = hexToBytes(leaf);
  for (const sibling of proof) node = hashPair(node, hexToBytes(sibling));
  return bytesToHex(node);
}

function assertLeafCount(leafCount: number): void {
  if (!Number.isInteger(leafCount) || leafCount < 1 || leafCount > MAX_LEAVES) {
    throw new RangeError(`a tree needs 1 to 2^32-1 leaves, not ${leafCount}`);
  }
}
