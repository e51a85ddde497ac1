/**
 * The server-side key: the one secret that never enters the database, so that a copy of the database
 * alone reveals no licence key or PIN. It comes from SECRET_KEY (required on a real chain) or, in
 * development, is generated once into DATA_DIR/secret-key (mode 0600). Back it up apart from the
 * database: without it, secrets registered under it can no longer be checked.
 *
 * Each use gets its own subkey (HKDF-SHA256 with the purpose as info), so a value computed for one
 * purpose can never stand in for another, and a purpose can be re-keyed on its own later.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

/** Every use of the key. Add a purpose here rather than reusing one for something else. */
export const KEY_PURPOSES = [
  /** Per-record salts of secret commitments, derived instead of stored. */
  'secret-salt',
  /** Salts stored by older versions, kept encrypted at rest. */
  'stored-salt',
  /** The platform-wide blind index of secrets (one key, one sale). */
  'blind-index',
  /** Who scanned an item, as a keyed hash of an address prefix rather than the address. */
  'scanner',
  /** Secrets handed over by sealed delivery, encrypted until the buyer reveals them. */
  'sealed-delivery',
  /** Signing secrets of webhook endpoints, encrypted at rest. */
  'webhook-secret',
] as const;
export type KeyPurpose = (typeof KEY_PURPOSES)[number];

/** The master key's length in bytes. */
export const SERVER_KEY_BYTES = 32;

const SEALED_PREFIX = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class ServerKey {
  private readonly subkeys = new Map<KeyPurpose, Buffer>();

  private constructor(private readonly master: Buffer) {}

  /** Exactly SERVER_KEY_BYTES bytes of key material, taken as is. */
  static fromBytes(bytes: Uint8Array): ServerKey {
    if (bytes.length !== SERVER_KEY_BYTES) {
      throw new RangeError(`a server key is ${SERVER_KEY_BYTES} bytes, not ${bytes.length}`);
    }
    return new ServerKey(Buffer.from(bytes));
  }

  /** A fresh random key (development, tests). */
  static generate(): ServerKey {
    return new ServerKey(randomBytes(SERVER_KEY_BYTES));
  }

  /** The 32-byte subkey for one purpose. */
  subkey(purpose: KeyPurpose): Buffer {
    let key = this.subkeys.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.master, 'proofmark server key', purpose, 32));
      this.subkeys.set(purpose, key);
    }
    return key;
  }

  /**
   * HMAC-SHA256 of `parts` under the purpose's subkey. Each part is length-prefixed, so ("ab", "c")
   * and ("a", "bc") never give the same value.
   */
  mac(purpose: KeyPurpose, ...parts: Array<string | Uint8Array>): Buffer {
    // The whole message in one buffer and one update: three MACs a registered record, so the
    // per-part buffers and calls showed in ingest profiles. The bytes hashed are the same.
    const bytes = parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : part));
    let size = 0;
    for (const b of bytes) size += 4 + b.length;
    const message = Buffer.allocUnsafe(size);
    let at = 0;
    for (const b of bytes) {
      message.writeUInt32BE(b.length, at);
      message.set(b, at + 4);
      at += 4 + b.length;
    }
    return createHmac('sha256', this.macKey(purpose)).update(message).digest();
  }

  private readonly macKeys = new Map<KeyPurpose, KeyObject>();

  /** The purpose's subkey as a key object, imported once rather than at every MAC. */
  private macKey(purpose: KeyPurpose): KeyObject {
    let key = this.macKeys.get(purpose);
    if (!key) {
      key = createSecretKey(this.subkey(purpose));
      this.macKeys.set(purpose, key);
    }
    return key;
  }

  /**
   * Encrypts `plaintext` with AES-256-GCM under the purpose's subkey. `context` (a record id, say) is
   * authenticated but not stored: the sealed text opens only with the same context, so it cannot be
   * moved to another row. Returns `v1.` + base64url(iv ++ ciphertext ++ tag).
   */
  seal(purpose: KeyPurpose, plaintext: Uint8Array | string, context = ''): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.subkey(purpose), iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([
      cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
      cipher.final(),
    ]);
    return SEALED_PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** The plaintext of `seal`'s output; throws if it was altered, or sealed for another purpose or context. */
  open(purpose: KeyPurpose, sealed: string, context = ''): Buffer {
    if (!sealed.startsWith(SEALED_PREFIX)) throw new Error('not a sealed value');
    const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value too short');
    const decipher = createDecipheriv('aes-256-gcm', this.subkey(purpose), raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
  }
}
