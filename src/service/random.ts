/** Every random value the service makes: ids, salts and keys, from the OS's CSPRNG. */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import type { Hex } from '../core/index.ts';

// Ingest needs two or three random values per record; one CSPRNG call per 64 KiB instead of per value.
const pool = Buffer.alloc(64 * 1024);
let offset = pool.length;

function take(n: number): Buffer {
  if (offset + n > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = pool.subarray(offset, offset + n);
  offset += n;
  return out;
}

/** 128 random bits, URL-safe: short enough for a QR code, too many to guess. */
export function randomId(): string {
  return take(16).toString('base64url');
}

export function randomSalt(): Hex {
  return `0x${take(32).toString('hex')}`;
}

/** A merchant API key: shown once, stored only as sha256 (it is high-entropy, so no slow hash is needed). */
export function newApiKey(): { key: string; hash: string } {
  const key = `pmk_${randomBytes(24).toString('base64url')}`;
  return { key, hash: sha256Hex(key) };
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
