/**
 * The server key: one subkey per purpose, MACs that cannot be confused by moving bytes between parts,
 * and sealed values that open only under the same key, purpose and context, unaltered.
 */
import { describe, expect, it } from 'vitest';
import { KEY_PURPOSES, ServerKey } from '../../src/service/server-key.ts';

const key = ServerKey.fromBytes(Buffer.alloc(32, 7));

describe('ServerKey', () => {
  it('takes exactly 32 bytes', () => {
    expect(() => ServerKey.fromBytes(Buffer.alloc(31))).toThrow(/32 bytes/);
    expect(() => ServerKey.fromBytes(Buffer.alloc(33))).toThrow(/32 bytes/);
  });

  it('derives a different 32-byte subkey for every purpose, the same each time', () => {
    const subkeys = KEY_PURPOSES.map((p) => key.subkey(p).toString('hex'));
    expect(new Set(subkeys).size).toBe(KEY_PURPOSES.length);
    for (const hex of subkeys) expect(hex).toMatch(/^[0-9a-f]{64}$/);
    expect(ServerKey.fromBytes(Buffer.alloc(32, 7)).subkey('blind-index')).toEqual(key.subkey('blind-index'));
    expect(ServerKey.fromBytes(Buffer.alloc(32, 8)).subkey('blind-index')).not.toEqual(
      key.subkey('blind-index'),
    );
  });

  it('MACs: per purpose, and parts are length-prefixed', () => {
    expect(key.mac('scanner', 'ab', 'c')).not.toEqual(key.mac('scanner', 'a', 'bc'));
    expect(key.mac('scanner', 'abc')).not.toEqual(key.mac('blind-index', 'abc'));
    expect(key.mac('scanner', 'abc')).toEqual(key.mac('scanner', Buffer.from('abc')));
    expect(key.mac('scanner', 'abc')).toHaveLength(32);
  });

  it('MACs: the same bytes as HMAC-SHA256 over the length-prefixed parts (known answers)', () => {
    // Computed before the MAC was built in one buffer: blind index values, derived salts and scanner
    // hashes already stored must not change.
    const hex = (b: Buffer) => b.toString('hex');
    expect(hex(key.mac('blind-index', 'licence', 'vk7jgnphtm'))).toBe(
      '9a0fdf936fd1cbf09f817607331fb35b2559cd17328a16892596281db2416584',
    );
    expect(hex(key.mac('blind-index', 'serial', 'merchant-1', 'SKU-1', 'SN-1'))).toBe(
      '40e9747ee081a1c91f802653542c48b6fcc37214f9e12a5ac38a72010d017aec',
    );
    expect(hex(key.mac('secret-salt', 'rec_01', new Uint8Array([0, 1, 2])))).toBe(
      '10c8cd6139c5233dd3ca3c340ca25b071090551ef48322a43e2a67d308f384db',
    );
    expect(hex(key.mac('scanner', ''))).toBe(
      '4deb17f0dc5225847d49a094224f097d312714c166841f5aea9f701aafa30bac',
    );
    expect(hex(key.mac('scanner'))).toBe('504355ba35cb5184e98fe8a34fe02d3880a0a1e14c23152f59592fd9d80979ee');
    expect(hex(key.mac('scanner', 'Straße ✓ 正品'))).toBe(
      'ed7f62df3ce7077c406f87d8d902350f0dae2302fbfa50c55ab908a482ae638b',
    );
  });

  it('seals with a fresh IV and opens only with the same purpose and context, unaltered', () => {
    const a = key.seal('sealed-delivery', 'VK7JG-NPHTM', 'record-1');
    const b = key.seal('sealed-delivery', 'VK7JG-NPHTM', 'record-1');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(a).not.toContain('VK7JG');
    expect(key.open('sealed-delivery', a, 'record-1').toString()).toBe('VK7JG-NPHTM');
    expect(() => key.open('sealed-delivery', a, 'record-2')).toThrow();
    expect(() => key.open('webhook-secret', a, 'record-1')).toThrow();
    expect(() => ServerKey.generate().open('sealed-delivery', a, 'record-1')).toThrow();
    const raw = Buffer.from(a.slice(3), 'base64url');
    raw[raw.length - 20]! ^= 1;
    expect(() => key.open('sealed-delivery', `v1.${raw.toString('base64url')}`, 'record-1')).toThrow();
    expect(() => key.open('sealed-delivery', 'v2.abc')).toThrow(/not a sealed value/);
  });
});
