/**
 * The item directory (src/core/directory) over random histories: registrations, events and ends in
 * many batches, with keys that are random, that share long prefixes (deep paths, pages with one
 * child) or that cluster. After every batch it must agree with the naive second implementation
 * (directory-reference.ts) on the root and on every proof byte; every key's latest state must be
 * provable, absent keys provably absent, proofs of an earlier batch refused once the state moved on,
 * and any byte of a proof changed must make it fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesToHex,
  decodeDirectoryProof,
  DirectoryUpdate,
  EMPTY_DIRECTORY_ROOT,
  encodeDirectoryProof,
  InMemoryDirectory,
  keccak256,
  utf8,
  verifyDirectoryProof,
  type DirectoryValue,
  type Hex,
} from '../../src/core/index.ts';
import { referenceEncode, referenceProof, referenceRoot } from './directory-reference.ts';

// Like test/core/tree.test.ts: few runs locally, more in CI, FC_NUM_RUNS overrides both.
const numRuns = Number(process.env.FC_NUM_RUNS ?? (process.env.CI ? 100 : 25));

type KeyMode = 'random' | 'shared-prefix' | 'clustered';

/** Key number `n` of a history seeded `seed`, shaped by `mode`. */
function keyOf(mode: KeyMode, seed: number, n: number): Hex {
  const h = keccak256(utf8(`directory test key ${seed} ${n}`));
  if (mode === 'shared-prefix') {
    // All keys share the first 30 bytes: leaves 240+ levels deep, below chains of one-child pages.
    const base = keccak256(utf8(`directory test prefix ${seed}`));
    base.set(h.subarray(30), 30);
    return bytesToHex(base);
  }
  if (mode === 'clustered') {
    // Four clusters sharing 5 bytes each: some deep pages, some wide.
    h.set(keccak256(utf8(`directory test cluster ${seed} ${n % 4}`)).subarray(0, 5), 0);
  }
  return bytesToHex(h);
}

const leafOf = (seed: number, key: Hex, seq: number): Hex =>
  bytesToHex(keccak256(utf8(`directory test leaf ${seed} ${key} ${seq}`)));

/** A batch: new records, then events on records already there (pick chooses one), some ending it. */
const batchArb = fc.record({
  registrations: fc.integer({ min: 0, max: 25 }),
  events: fc.array(fc.record({ pick: fc.nat(), steps: fc.integer({ min: 1, max: 3 }), ends: fc.boolean() }), {
    maxLength: 15,
  }),
});

const historyArb = fc.record({
  mode: fc.constantFrom<KeyMode>('random', 'shared-prefix', 'clustered'),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  batches: fc.array(batchArb, { minLength: 1, maxLength: 6 }),
});

/** Keys near those present: equal but for their last bit, their first bit, or a middle nibble. */
function absentNeighbours(present: readonly Hex[], seed: number): Hex[] {
  const out = new Set<Hex>();
  for (const key of present.slice(0, 6)) {
    const bytes = Uint8Array.from(Buffer.from(key.slice(2), 'hex'));
    for (const [at, mask] of [
      [31, 0x01],
      [0, 0x80],
      [16, 0x10],
    ] as const) {
      const copy = bytes.slice();
      copy[at]! ^= mask;
      out.add(bytesToHex(copy));
    }
  }
  for (let i = 0; i < 4; i++) out.add(bytesToHex(keccak256(utf8(`directory absent ${seed} ${i}`))));
  for (const key of present) out.delete(key);
  return [...out];
}

/** Each byte of `proof` xor 0x01 and xor 0xff, one at a time, plus the proof cut short and extended. */
function tamperings(proof: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [proof.subarray(0, proof.length - 1), Uint8Array.of(...proof, 0)];
  for (let i = 0; i < proof.length; i++) {
    for (const mask of [0x01, 0xff]) {
      const copy = proof.slice();
      copy[i]! ^= mask;
      out.push(copy);
    }
  }
  return out;
}

describe('the item directory against a naive second implementation', () => {
  it(`agrees on roots and proofs over random histories, and every proof checks (${numRuns} runs)`, () => {
    fc.assert(
      fc.property(historyArb, ({ mode, seed, batches }) => {
        const directory = new InMemoryDirectory();
        const model = new Map<Hex, DirectoryValue>();
        let previous: { root: Hex; proofs: Map<Hex, Uint8Array> } | null = null;
        let registered = 0;
        for (const batch of batches) {
          const changes = new Map<Hex, DirectoryValue>();
          for (let i = 0; i < batch.registrations; i++) {
            const key = keyOf(mode, seed, registered++);
            // Shared-prefix keys have 16 bits of their own: two may meet, and a record registers once.
            if (model.has(key) || changes.has(key)) continue;
            changes.set(key, { seq: 0, leaf: leafOf(seed, key, 0), ended: false });
          }
          const active = [...model].filter(([, v]) => !v.ended);
          for (const { pick, steps, ends } of batch.events) {
            if (active.length === 0) break;
            const [key, before] = active[pick % active.length]!;
            const latest = changes.get(key) ?? before;
            if (latest.ended) continue;
            const seq = latest.seq + steps;
            changes.set(key, { seq, leaf: leafOf(seed, key, seq), ended: ends });
          }
          if (changes.size === 0) continue;

          const root = directory.apply([...changes].map(([key, value]) => ({ key, value })));
          for (const [key, value] of changes) model.set(key, value);
          // A fresh map per batch: the reference caches subtree hashes by map.
          const state = new Map(model);
          expect(root).toBe(referenceRoot(state));
          expect(directory.size).toBe(model.size);

          const proofs = new Map<Hex, Uint8Array>();
          for (const [key, value] of model) {
            const proof = encodeDirectoryProof(directory.prove(key));
            expect(bytesToHex(proof)).toBe(referenceEncode(referenceProof(state, key)));
            expect(verifyDirectoryProof(root, key, proof)).toEqual({ status: 'present', value });
            proofs.set(key, proof);
          }
          for (const key of absentNeighbours([...model.keys()], seed)) {
            const proof = encodeDirectoryProof(directory.prove(key));
            expect(bytesToHex(proof)).toBe(referenceEncode(referenceProof(state, key)));
            expect(verifyDirectoryProof(root, key, proof)).toEqual({ status: 'absent' });
          }
          // A proof of the batch before, for a record whose state changed since, is refused now.
          if (previous) {
            for (const key of changes.keys()) {
              const stale = previous.proofs.get(key);
              if (stale) expect(verifyDirectoryProof(root, key, stale).status).toBe('invalid');
            }
          }
          previous = { root, proofs };
        }
      }),
      { numRuns },
    );
  }, 600_000);

  it('fails every proof with any one byte changed, cut short or extended', () => {
    fc.assert(
      fc.property(historyArb, ({ mode, seed, batches }) => {
        const directory = new InMemoryDirectory();
        const count = Math.max(1, batches[0]!.registrations);
        const keys = [...new Set(Array.from({ length: count }, (_, i) => keyOf(mode, seed, i)))];
        directory.apply(
          keys.map((key, i) => ({ key, value: { seq: i, leaf: leafOf(seed, key, i), ended: i % 2 === 1 } })),
        );
        for (const key of [keys[0]!, keys[keys.length - 1]!, ...absentNeighbours(keys, seed).slice(0, 2)]) {
          const proof = encodeDirectoryProof(directory.prove(key));
          for (const tampered of tamperings(proof)) {
            expect(verifyDirectoryProof(directory.root, key, tampered).status).toBe('invalid');
          }
        }
      }),
      { numRuns: Math.max(5, Math.floor(numRuns / 3)) },
    );
  }, 600_000);
});

describe('directory edge cases', () => {
  const value = (seq: number, ended = false): DirectoryValue => ({
    seq,
    leaf: leafOf(0, '0x00', seq),
    ended,
  });
  const key = (digits: string): Hex => `0x${digits.padEnd(64, '0')}`;

  it('proves absence in an empty directory, and a single key at the root', () => {
    const empty = new InMemoryDirectory();
    const k = key('ab');
    const proof = encodeDirectoryProof(empty.prove(k));
    expect(bytesToHex(proof)).toBe('0x01000000');
    expect(verifyDirectoryProof(EMPTY_DIRECTORY_ROOT, k, proof)).toEqual({ status: 'absent' });

    const one = new InMemoryDirectory();
    one.apply([{ key: k, value: value(3, true) }]);
    expect(one.prove(k)).toEqual({
      depth: 0,
      siblings: [],
      terminal: { kind: 'leaf', value: value(3, true) },
    });
    expect(verifyDirectoryProof(one.root, k, encodeDirectoryProof(one.prove(k)))).toEqual({
      status: 'present',
      value: value(3, true),
    });
    const other = one.prove(key('ac'));
    expect(other.terminal).toEqual({ kind: 'other', key: k, value: value(3, true) });
    expect(verifyDirectoryProof(one.root, key('ac'), encodeDirectoryProof(other))).toEqual({
      status: 'absent',
    });
  });

  it('holds two keys that differ only in their last bit, 256 levels deep', () => {
    const a = key('') as Hex;
    const b = `0x${'0'.repeat(63)}1` as Hex;
    const directory = new InMemoryDirectory();
    directory.apply([
      { key: a, value: value(0) },
      { key: b, value: value(1) },
    ]);
    const model = new Map([
      [a, value(0)],
      [b, value(1)],
    ]);
    expect(directory.root).toBe(referenceRoot(model));
    const proof = directory.prove(b);
    expect(proof.depth).toBe(256);
    expect(proof.siblings.filter((s) => s !== null)).toHaveLength(1);
    expect(verifyDirectoryProof(directory.root, b, encodeDirectoryProof(proof))).toEqual({
      status: 'present',
      value: value(1),
    });
  });

  it('moves a leaf down when a new key lands on its place, and keeps its value', () => {
    const directory = new InMemoryDirectory();
    directory.apply([
      { key: key('10'), value: value(4) },
      { key: key('80'), value: value(0) },
    ]);
    // 0x11… shares the first digit with 0x10…: the leaf at path '1' becomes a page with two leaves.
    directory.apply([{ key: key('11'), value: value(0) }]);
    const model = new Map([
      [key('10'), value(4)],
      [key('80'), value(0)],
      [key('11'), value(0)],
    ]);
    expect(directory.root).toBe(referenceRoot(model));
    expect(
      verifyDirectoryProof(directory.root, key('10'), encodeDirectoryProof(directory.prove(key('10')))),
    ).toEqual({
      status: 'present',
      value: value(4),
    });
  });

  it('refuses a record going back, standing still, or taking an event after it ended', () => {
    const directory = new InMemoryDirectory();
    directory.apply([
      { key: key('1'), value: value(2) },
      { key: key('2'), value: value(1, true) },
    ]);
    expect(() => directory.apply([{ key: key('1'), value: value(2) }])).toThrow(
      /cannot go from seq 2 to seq 2/,
    );
    expect(() => directory.apply([{ key: key('1'), value: value(1) }])).toThrow(RangeError);
    expect(() => directory.apply([{ key: key('2'), value: value(5) }])).toThrow(/\(ended\)/);
    expect(() =>
      directory.apply([
        { key: key('3'), value: value(0) },
        { key: key('3'), value: value(1) },
      ]),
    ).toThrow(/updated twice/);
  });

  it('checks the stored root page against the base root it is told', () => {
    const directory = new InMemoryDirectory();
    directory.apply([
      { key: key('1'), value: value(0) },
      { key: key('2'), value: value(0) },
    ]);
    const wrongRoot = directory.root.replace(/.$/, (d) => (d === '0' ? '1' : '0')) as Hex;
    const update = new DirectoryUpdate(
      [{ key: key('3'), value: value(0) }],
      { root: wrongRoot, version: 1 },
      2,
    );
    expect(update.wanted()).toEqual([{ version: 1, path: '' }]);
    const pages = (directory as unknown as { pages: Map<string, Uint8Array> }).pages;
    expect(() => update.supply([pages.get('')!])).toThrow(/does not hash to the base root/);
    expect(() => new DirectoryUpdate([], { root: directory.root, version: 2 }, 2)).toThrow(
      /must follow the base/,
    );
  });

  it('decodes exactly what it encodes', () => {
    const directory = new InMemoryDirectory();
    const keys = Array.from({ length: 50 }, (_, i) => bytesToHex(keccak256(utf8(`decode ${i}`))));
    directory.apply(keys.map((k, i) => ({ key: k, value: value(i, i % 3 === 0) })));
    for (const k of [...keys, key('ff')]) {
      const proof = directory.prove(k);
      expect(decodeDirectoryProof(encodeDirectoryProof(proof))).toEqual(proof);
    }
  });
});
