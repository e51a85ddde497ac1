/** Every random value the service makes: ids, salts and keys, from the OS's CSPRNG. */
import { createHash, randomBytes } from 'node:crypto';
import { bytesToHex, type Hex } from '../core/index.ts';

/** 128 random bits, URL-safe: short enough for a QR code, too many to guess. */
export function randomId(): string {
  return randomBytes(16).toString('base64url');
}

export function randomSalt(): Hex {
  return bytesToHex(randomBytes(32));
}

/** A merchant API key: shown once, stored only as sha256 (it is high-entropy, so no slow hash is needed). */
export function newApiKey(): { key: string; hash: string } {
  const key = `pmk_${randomBytes(24).toString('base64url')}`;
  return { key, hash: sha256Hex(key) };
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
