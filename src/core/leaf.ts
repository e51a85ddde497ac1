/**
 * Leaves of lifecycle events. Issuance is event 0 of a record; every later event chains to the
 * leaf before it, so a record's history cannot be reordered or have an event dropped silently.
 *
 *   recordKey   = keccak256(utf8(recordId))
 *   contentHash = keccak256(utf8(JCS(content)))
 *   leaf        = keccak256(keccak256(abi.encode(bytes32 recordKey, uint32 seq, bytes32 prevLeaf, bytes32 contentHash)))
 *
 * The double hash keeps a leaf from ever being mistaken for an inner node (a 64-byte preimage).
 */
import { assertBytes32, bytesToHex, hexToBytes, ZERO32, type Hex } from './hex.ts';
import { canonicalJson, isWellFormed } from './jcs.ts';
import { keccak256, utf8 } from './keccak.ts';

export const MAX_SEQ = 0xffff_ffff;

export interface LeafInput {
  recordId: string;
  seq: number;
  prevLeaf: Hex;
  content: object;
}

export function recordKey(recordId: string): Hex {
  return bytesToHex(keccak256(utf8(recordId)));
}

export function contentHash(content: object): Hex {
  return bytesToHex(keccak256(utf8(canonicalJson(content))));
}

/** Throws a TypeError naming the first rule `input` breaks. */
export function assertLeafInput(input: LeafInput): void {
  if (typeof input.recordId !== 'string' || input.recordId.length === 0) {
    throw new TypeError('recordId must be a non-empty string');
  }
  // UTF-8 would write every lone surrogate as U+FFFD: ids differing only there would share a leaf.
  if (!isWellFormed(input.recordId)) throw new TypeError('recordId holds a lone UTF-16 surrogate');
  if (!Number.isInteger(input.seq) || input.seq < 0 || input.seq > MAX_SEQ) {
    throw new TypeError('seq must be an integer from 0 to 2^32-1');
  }
  assertBytes32(input.prevLeaf, 'prevLeaf');
  if ((input.seq === 0) !== (input.prevLeaf === ZERO32)) {
    throw new TypeError('prevLeaf must be zero exactly when seq is 0');
  }
  const salt = (input.content as { salt?: unknown }).salt;
  assertBytes32(salt, 'content.salt');
}

export function eventLeafBytes(input: LeafInput): Uint8Array {
  assertLeafInput(input);
  return encodeLeaf(input.recordId, input.seq, input.prevLeaf, contentHash(input.content));
}

/**
 * The leaf from an already computed contentHash, for callers that hash each content's JCS once
 * (the service on its ingest path). The caller vouches for the content's salt.
 */
export function leafOfHashedContent(recordId: string, seq: number, prevLeaf: Hex, hashOfContent: Hex): Hex {
  assertLeafInput({ recordId, seq, prevLeaf, content: { salt: hashOfContent } });
  assertBytes32(hashOfContent, 'contentHash');
  return bytesToHex(encodeLeaf(recordId, seq, prevLeaf, hashOfContent));
}

function encodeLeaf(recordId: string, seq: number, prevLeaf: Hex, hashOfContent: Hex): Uint8Array {
  const encoded = new Uint8Array(128);
  encoded.set(keccak256(utf8(recordId)), 0);
  new DataView(encoded.buffer).setUint32(60, seq); // uint32, left-padded into word 2
  encoded.set(hexToBytes(prevLeaf), 64);
  encoded.set(hexToBytes(hashOfContent), 96);
  return keccak256(keccak256(encoded));
}

export function eventLeaf(input: LeafInput): Hex {
  return bytesToHex(eventLeafBytes(input));
}

/**
 * Commitment to a secret (licence key, card PIN, account password) that may appear in public content.
 * The salt is kept private by the service: with a public salt a short PIN could be brute-forced offline.
 * The secret is NFC-normalised and trimmed so that what a consumer types matches what was registered.
 */
export function secretCommitment(secret: string, secretSalt: Hex): Hex {
  assertBytes32(secretSalt, 'secretSalt');
  const text = utf8(secret.normalize('NFC').trim());
  const data = new Uint8Array(32 + text.length);
  data.set(hexToBytes(secretSalt), 0);
  data.set(text, 32);
  return bytesToHex(keccak256(data));
}
