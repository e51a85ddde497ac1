/**
 * keccak256 (Ethereum's, not SHA3-256), synchronous after module load.
 *
 * hash-wasm's WASM keccak measured about 5x the `keccak256` package and 8x @noble/hashes here; it
 * needs one asynchronous instantiation, done once with top-level await so that every caller can
 * hash synchronously.
 */
import { createKeccak } from 'hash-wasm';
import { bytesToHex, type Hex } from './hex.ts';

const hasher = await createKeccak(256);
const encoder = new TextEncoder();

export function keccak256(data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest('binary');
}

export function keccak256Hex(data: Uint8Array): Hex {
  return bytesToHex(keccak256(data));
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}
