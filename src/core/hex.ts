/** Hex helpers and assertion guards shared by the core. 0x-prefixed lowercase hex everywhere. */

export type Hex = `0x${string}`;

export const ZERO32: Hex = `0x${'0'.repeat(64)}`;

const BYTES32 = /^0x[0-9a-f]{64}$/;
const HEX = /^0x([0-9a-f]{2})*$/;

export function isBytes32(value: unknown): value is Hex {
  return typeof value === 'string' && BYTES32.test(value);
}

/** Narrows `value` to a lowercase 0x-prefixed 32-byte hex string, or throws naming `what`. */
export function assertBytes32(value: unknown, what: string): asserts value is Hex {
  if (!isBytes32(value)) throw new TypeError(`${what} must be 32 bytes as 0x-prefixed lowercase hex`);
}

export function bytesToHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}`;
}

export function hexToBytes(hex: string): Uint8Array {
  const h = hex.toLowerCase();
  if (!HEX.test(h)) throw new TypeError('expected 0x-prefixed hex with an even number of digits');
  // Buffer's hex decoder (pure, no I/O) is an order of magnitude faster than parsing digit pairs.
  const buf = Buffer.from(h.slice(2), 'hex');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Byte-wise comparison, as the tree orders sibling pairs. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
