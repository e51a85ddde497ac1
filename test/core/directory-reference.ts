/**
 * A second implementation of the item directory, written from docs/proof-format.md §9 for the tests
 * only, and deliberately naive: no pages, no storage, no incremental update. The root and every proof
 * are recomputed from the whole key set by splitting it bit by bit, with ethers' keccak256. The
 * property tests hold src/core/directory to agree with it on roots and on every proof byte. A map
 * passed in must not change afterwards (subtree hashes are cached by map).
 */
import { keccak256 } from 'ethers';
import type { Hex } from '../../src/core/index.ts';

export interface ReferenceValue {
  seq: number;
  leaf: Hex;
  ended: boolean;
}

export interface ReferenceProof {
  depth: number;
  siblings: (Hex | null)[];
  terminal:
    | { kind: 'empty' }
    | { kind: 'leaf'; value: ReferenceValue }
    | { kind: 'other'; key: Hex; value: ReferenceValue };
}

const hex = (bytes: string): Hex => `0x${bytes}`;
const strip = (h: string) => h.slice(2);

/** seq as 8 hex digits, the leaf, and 00 or 01. */
function valueHex(v: ReferenceValue): string {
  return v.seq.toString(16).padStart(8, '0') + strip(v.leaf) + (v.ended ? '01' : '00');
}

const EMPTY = keccak256('0x02') as Hex;
const leafNode = (key: Hex, v: ReferenceValue) => keccak256(hex(`00${strip(key)}${valueHex(v)}`)) as Hex;
const internalNode = (l: Hex, r: Hex) => keccak256(hex(`01${strip(l)}${strip(r)}`)) as Hex;

/** Bit `i` of a key, most significant first. */
function bit(key: Hex, i: number): number {
  return (parseInt(key.slice(2 + (i >> 2), 3 + (i >> 2)), 16) >> (3 - (i & 3))) & 1;
}

type Map = ReadonlyMap<Hex, ReferenceValue>;

/**
 * Subtree hashes already computed for a key set, by depth and a key of the subtree: all of a map's
 * keys sharing a prefix make one subtree, so any of them names it. Only a cache: the tests' proofs
 * would otherwise rehash the whole set for each key.
 */
const memo = new WeakMap<Map, globalThis.Map<string, Hex>>();

/** The hash of the subtree at `depth` holding exactly `keys` (every key of `map` on its path). */
function subtree(map: Map, keys: readonly Hex[], depth: number): Hex {
  if (keys.length === 0) return EMPTY;
  if (keys.length === 1) return leafNode(keys[0]!, map.get(keys[0]!)!);
  let cache = memo.get(map);
  if (!cache) memo.set(map, (cache = new globalThis.Map()));
  const name = `${depth} ${keys[0]}`;
  const known = cache.get(name);
  if (known) return known;
  const left = keys.filter((k) => bit(k, depth) === 0);
  const right = keys.filter((k) => bit(k, depth) === 1);
  const hash = internalNode(subtree(map, left, depth + 1), subtree(map, right, depth + 1));
  cache.set(name, hash);
  return hash;
}

export function referenceRoot(map: Map): Hex {
  return subtree(map, [...map.keys()], 0);
}

/** Walks `key`'s bits from the root until the keys sharing its path are one or none. */
export function referenceProof(map: Map, key: Hex): ReferenceProof {
  let keys = [...map.keys()];
  const siblings: (Hex | null)[] = [];
  for (let depth = 0; ; depth++) {
    if (keys.length === 0) return { depth, siblings, terminal: { kind: 'empty' } };
    if (keys.length === 1) {
      const only = keys[0]!;
      const value = map.get(only)!;
      return {
        depth,
        siblings,
        terminal: only === key ? { kind: 'leaf', value } : { kind: 'other', key: only, value },
      };
    }
    const mine = keys.filter((k) => bit(k, depth) === bit(key, depth));
    const others = keys.filter((k) => bit(k, depth) !== bit(key, depth));
    siblings.push(others.length === 0 ? null : subtree(map, others, depth + 1));
    keys = mine;
  }
}

/** The byte encoding of §9, as hex. */
export function referenceEncode(proof: ReferenceProof): Hex {
  const { depth, siblings, terminal } = proof;
  const code = { empty: '00', leaf: '01', other: '02' }[terminal.kind];
  let bitmap = '';
  for (let byte = 0; byte < Math.ceil(depth / 8); byte++) {
    let b = 0;
    for (let i = 0; i < 8; i++) if (siblings[byte * 8 + i]) b |= 0x80 >> i;
    bitmap += b.toString(16).padStart(2, '0');
  }
  const present = siblings
    .filter((s): s is Hex => s !== null)
    .map(strip)
    .join('');
  const tail =
    terminal.kind === 'empty'
      ? ''
      : terminal.kind === 'leaf'
        ? valueHex(terminal.value)
        : strip(terminal.key) + valueHex(terminal.value);
  return hex(`01${code}${depth.toString(16).padStart(4, '0')}${bitmap}${present}${tail}`);
}
