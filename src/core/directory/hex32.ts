/**
 * 32-byte values written as 0x-prefixed lowercase hex, read digit by digit into a byte array. An
 * update reads two per record (its key and its event's leaf); the regular expression and Buffer of
 * hex.ts cost several times more, most of it in allocations.
 */
const DIGITS = new Int8Array(128).fill(-1);
for (let d = 0; d < 10; d++) DIGITS[48 + d] = d;
for (let d = 0; d < 6; d++) DIGITS[97 + d] = 10 + d;

/**
 * Writes the 32 bytes `hex` spells into `out` at `offset`; false (with `out` partly written) when
 * `hex` is not exactly 0x and 64 lowercase hex digits.
 */
export function readHex32(hex: unknown, out: Uint8Array, offset: number): boolean {
  if (typeof hex !== 'string' || hex.length !== 66 || hex.charCodeAt(0) !== 48 || hex.charCodeAt(1) !== 120) {
    return false;
  }
  for (let i = 0; i < 32; i++) {
    const high = digit(hex.charCodeAt(2 + 2 * i));
    const low = digit(hex.charCodeAt(3 + 2 * i));
    if (high < 0 || low < 0) return false;
    out[offset + i] = (high << 4) | low;
  }
  return true;
}

/** A lowercase hex digit's value, or -1. */
function digit(code: number): number {
  return code < 128 ? DIGITS[code]! : -1;
}
