/**
 * The two Buffer calls src/core/hex.ts makes (Node's fast hex codec), for the browser bundle only:
 * esbuild injects this as the global `Buffer`, so the core stays as the server runs it. Input is
 * already validated by the core (even-length lowercase hex).
 */
class HexBytes extends Uint8Array {
  override toString(): string {
    let out = '';
    for (const b of this) out += b.toString(16).padStart(2, '0');
    return out;
  }
}

function from(source: ArrayBuffer | string, offsetOrEncoding?: number | string, length?: number): HexBytes {
  if (typeof source !== 'string') return new HexBytes(source, offsetOrEncoding as number, length);
  const bytes = new HexBytes(source.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(source.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

export const Buffer = { from };
