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
