/** Checking a directory proof against a root: pure, and the same code the browser runs. */
import { bytesToHex, hexToBytes, isBytes32, type Hex } from '../hex.ts';
import { commonPrefixBits, EMPTY_HASH, equalBytes, internalHash, keyBit, leafHash } from './hashing.ts';
import { decodeDirectoryProof } from './proof.ts';
import { encodeValue, type DirectoryValue } from './value.ts';

export type DirectoryVerdict =
  /** The key is in the directory with this value, as of the root. */
  | { status: 'present'; value: DirectoryValue }
  /** No such key in the directory, as of the root. */
  | { status: 'absent' }
  /** The proof does not show either against this root (forged, altered, for another root or key). */
  | { status: 'invalid'; reason: string };

/**
 * What `proof` (its byte encoding, or that as 0x-hex) shows about `key` (a recordKey) in the
 * directory whose root is `root`. Never throws: input of any shape gets a verdict.
 */
export function verifyDirectoryProof(root: Hex, key: Hex, proof: Uint8Array | Hex): DirectoryVerdict {
  if (!isBytes32(root)) return invalid('the root is not a bytes32');
  if (!isBytes32(key)) return invalid('the key is not a bytes32');
  let bytes: Uint8Array;
  try {
    bytes = typeof proof === 'string' ? hexToBytes(proof) : proof;
  } catch {
    return invalid('the proof is not hex');
  }
  const decoded = decodeDirectoryProof(bytes);
  if (decoded === null) return invalid('the proof is not a well-formed encoding');
  const { depth, siblings, terminal } = decoded;
  const keyBytes = hexToBytes(key);

  let node: Uint8Array;
  if (terminal.kind === 'empty') {
    node = EMPTY_HASH;
  } else if (terminal.kind === 'leaf') {
    node = leafHash(keyBytes, encodeValue(terminal.value));
  } else {
    const other = hexToBytes(terminal.key);
    if (equalBytes(other, keyBytes)) return invalid('a non-membership proof ends at the key itself');
    // Another key's leaf only excludes this key if it sits on this key's path.
    if (commonPrefixBits(other, keyBytes) < depth)
      return invalid("the leaf it ends at is off the key's path");
    node = leafHash(other, encodeValue(terminal.value));
  }
  // A leaf or empty node below the root always has a sibling holding keys: were the sibling empty,
  // the leaf would sit one level higher (or the parent would be empty). Only one shape is valid.
  if (depth > 0 && siblings[depth - 1] === null) return invalid('the node it ends at has an empty sibling');

  for (let d = depth; d >= 1; d--) {
    const sibling = siblings[d - 1];
    const other = sibling === null || sibling === undefined ? EMPTY_HASH : hexToBytes(sibling);
    node = keyBit(keyBytes, d - 1) === 0 ? internalHash(node, other) : internalHash(other, node);
  }
  if (bytesToHex(node) !== root) return invalid('the proof does not lead to the root');
  return terminal.kind === 'leaf' ? { status: 'present', value: terminal.value } : { status: 'absent' };
}

function invalid(reason: string): DirectoryVerdict {
  return { status: 'invalid', reason };
}
