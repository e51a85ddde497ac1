/**
 * Building a key's directory proof from stored nodes, pure: the caller hands in a lookup by path,
 * and is told which path it lacks when the lookup has no node there (so it can read more and call
 * again). A walk reads one node per page level, plus the leaf it ends at.
 */
import { bytesToHex, isBytes32, type Hex } from '../hex.ts';
import { EMPTY_DIRECTORY_ROOT } from './hashing.ts';
import {
  decodeNode,
  NIBBLE_DIGITS,
  nibbleAt,
  PAGE_WIDTH,
  summarize,
  type LeafNode,
  nibbleBit,
  type PageNode,
} from './nodes.ts';
import type { DirectoryProof, DirectoryProofTerminal } from './proof.ts';
import { readValue } from './value.ts';

export type DirectoryProofSearch =
  | { proof: DirectoryProof }
  /** The lookup had no node at `path`, which the walk needs (it is on the key's path or beside it). */
  | { missing: string };

/**
 * The proof of `key` in the directory with root `root`, from its stored nodes (`nodeAt(path)`: the
 * node's bytes, or undefined when the caller has not read it). The root node must be given unless
 * the directory is empty.
 */
export function proveDirectoryKey(
  root: Hex,
  key: Hex,
  nodeAt: (path: string) => Uint8Array | undefined,
): DirectoryProofSearch {
  if (!isBytes32(root) || !isBytes32(key)) throw new TypeError('root and key must be bytes32');
  if (root === EMPTY_DIRECTORY_ROOT)
    return { proof: { depth: 0, siblings: [], terminal: { kind: 'empty' } } };
  const digits = key.slice(2);
  const siblings: (Hex | null)[] = [];
  let path = '';
  for (;;) {
    const bytes = nodeAt(path);
    if (!bytes) return { missing: path };
    const node = decodeNode(bytes, path);
    if (node.kind === 'leaf')
      return { proof: { depth: siblings.length, siblings, terminal: ending(key, node) } };
    const slot = nibbleAt(digits, path.length);
    // Down the four binary levels inside the page, toward `slot`.
    for (let size = PAGE_WIDTH >>> 1; size >= 1; size >>>= 1) {
      const start = slot & ~(size - 1);
      const sibling = summarize(node, start ^ size, size);
      siblings.push(sibling === null ? null : bytesToHex(sibling.hash));
      const within = childrenIn(node, start, size);
      if (within.length === 0)
        return { proof: { depth: siblings.length, siblings, terminal: { kind: 'empty' } } };
      if (within.length === 1 && node.leafMask & nibbleBit(within[0]!)) {
        const leafPath = path + NIBBLE_DIGITS[within[0]!];
        const leafBytes = nodeAt(leafPath);
        if (!leafBytes) return { missing: leafPath };
        const leaf = decodeNode(leafBytes, leafPath);
        if (leaf.kind !== 'leaf') throw new Error(`directory node at path '${leafPath}' should be a leaf`);
        return { proof: { depth: siblings.length, siblings, terminal: ending(key, leaf) } };
      }
    }
    // Four levels down, the range is `slot` alone, and it holds a page.
    path += NIBBLE_DIGITS[slot];
  }
}

/** The nibbles from `from` to `from + size - 1` that hold a child. */
function childrenIn(page: PageNode, from: number, size: number): number[] {
  const out: number[] = [];
  for (let n = from; n < from + size; n++) if (page.hashes[n] !== null) out.push(n);
  return out;
}

/** The walk's end at `leaf`: the key's own leaf, or another key's. */
function ending(key: Hex, leaf: LeafNode): DirectoryProofTerminal {
  const leafKey = bytesToHex(leaf.key);
  const value = readValue(leaf.value, 0)!;
  return leafKey === key ? { kind: 'leaf', value } : { kind: 'other', key: leafKey, value };
}
