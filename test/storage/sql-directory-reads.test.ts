/**
 * How the SQL directory store splits a read of many page keys: every key read once, in order, in
 * reads of a few sizes only, so their prepared statements are reused (src/storage/sql/directory.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSizes } from '../../src/storage/sql/directory.ts';

const SIZES = new Set([2000, ...Array.from({ length: 11 }, (_, i) => 2 ** i)]);

describe('readSizes', () => {
  it('covers every key once, in order, with reads of 2,000 or a power of two up to 1,024', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50_000 }), (count) => {
        const reads = readSizes(count);
        let next = 0;
        for (const [from, size] of reads) {
          expect(from).toBe(next);
          expect(SIZES.has(size)).toBe(true);
          next += size;
        }
        expect(next).toBe(count);
        // At most one read of each smaller size: a handful of statements for any count.
        const small = reads.filter(([, size]) => size < 2000).map(([, size]) => size);
        expect(new Set(small).size).toBe(small.length);
      }),
    );
  });

  it('reads nothing for no keys, and 4,500 keys as 2,000 + 2,000 + 256 + 128 + 64 + 32 + 16 + 4', () => {
    expect(readSizes(0)).toEqual([]);
    expect(readSizes(4500).map(([, size]) => size)).toEqual([2000, 2000, 256, 128, 64, 32, 16, 4]);
  });
});
