import canonicalize from 'canonicalize';
import { AbiCoder, concat, keccak256 as ethersKeccak, solidityPackedKeccak256, toUtf8Bytes } from 'ethers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_SEQ,
  ZERO32,
  assertLeafInput,
  bytesToHex,
  contentHash,
  eventLeaf,
  eventLeafBytes,
  recordKey,
  secretCommitment,
  type Hex,
  type LeafInput,
} from '../../src/core/index.ts';

const numRuns = Number(process.env.FC_NUM_RUNS ?? (process.env.CI ? 1000 : 200));

const SALT: Hex = `0x${'5a'.repeat(32)}`;
const PREV: Hex = `0x${'ab'.repeat(32)}`;

/** The leaf rule written again with ethers and the canonicalize package, sharing no code with the core. */
function referenceLeaf(input: LeafInput): string {
  const key = ethersKeccak(toUtf8Bytes(input.recordId));
  const hash = ethersKeccak(toUtf8Bytes(canonicalize(input.content)!));
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ['bytes32', 'uint32', 'bytes32', 'bytes32'],
    [key, input.seq, input.prevLeaf, hash],
  );
  return ethersKeccak(ethersKeccak(encoded));
}

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b));
const nonZeroBytes32 = bytes32.filter((h) => h !== ZERO32);
const seqArb = fc.oneof(
  fc.constantFrom(0, 1, 2, 255, 256, 65535, 65536, 0x7fff_ffff, 0x8000_0000, MAX_SEQ - 1, MAX_SEQ),
  fc.integer({ min: 0, max: MAX_SEQ }),
);
const leafInput: fc.Arbitrary<LeafInput> = fc
  .record({
    recordId: fc.string({ unit: 'binary', minLength: 1 }),
    seq: seqArb,
    prevLeaf: nonZeroBytes32,
    salt: bytes32,
    extra: fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ maxDepth: 2, stringUnit: 'binary' })),
  })
  .map(({ recordId, seq, prevLeaf, salt, extra }) => ({
    recordId,
    seq,
    prevLeaf: seq === 0 ? ZERO32 : prevLeaf,
    content: { ...extra, salt },
  }));

describe('eventLeaf', () => {
  it('equals an independent ethers computation of keccak256(keccak256(abi.encode(...)))', () => {
    fc.assert(
      fc.property(leafInput, (input) => {
        expect(eventLeaf(input)).toBe(referenceLeaf(input));
      }),
      { numRuns },
    );
  });

  it('is eventLeafBytes as hex', () => {
    const input = { recordId: 'r1', seq: 3, prevLeaf: PREV, content: { salt: SALT, type: 'sold' } };
    expect(bytesToHex(eventLeafBytes(input))).toBe(eventLeaf(input));
  });

  it('matches a worked example byte for byte', () => {
    const content = { type: 'sold', data: { buyer: '张三' }, salt: SALT };
    const input = { recordId: 'rec-1', seq: 0x01020304, prevLeaf: PREV, content };
    const key = ethersKeccak(toUtf8Bytes('rec-1'));
    const jcs = '{"data":{"buyer":"张三"},"salt":"' + SALT + '","type":"sold"}';
    expect(recordKey('rec-1')).toBe(key);
    expect(contentHash(content)).toBe(ethersKeccak(toUtf8Bytes(jcs)));
    // abi.encode: four 32-byte words; the uint32 is left-padded with zeros into word 2.
    const encoded = key + '0'.repeat(56) + '01020304' + PREV.slice(2) + contentHash(content).slice(2);
    expect(encoded.length).toBe(2 + 128 * 2);
    expect(eventLeaf(input)).toBe(ethersKeccak(ethersKeccak(encoded)));
  });

  it('hashes twice: the leaf is not keccak256 of the encoding', () => {
    const input = { recordId: 'r', seq: 0, prevLeaf: ZERO32, content: { salt: SALT } };
    const encoded = AbiCoder.defaultAbiCoder().encode(
      ['bytes32', 'uint32', 'bytes32', 'bytes32'],
      [recordKey('r'), 0, ZERO32, contentHash(input.content)],
    );
    expect(eventLeaf(input)).not.toBe(ethersKeccak(encoded));
    expect(eventLeaf(input)).toBe(ethersKeccak(ethersKeccak(encoded)));
  });

  it('does not depend on the order of content members, but on every value', () => {
    const a = { recordId: 'r', seq: 0, prevLeaf: ZERO32, content: { a: 1, b: [1, 2], salt: SALT } };
    const b = { ...a, content: { salt: SALT, b: [1, 2], a: 1 } };
    expect(eventLeaf(a)).toBe(eventLeaf(b));
    expect(eventLeaf({ ...a, content: { ...a.content, b: [2, 1] } })).not.toBe(eventLeaf(a));
  });

  it('changes when any one input changes', () => {
    fc.assert(
      fc.property(leafInput, nonZeroBytes32, bytes32, (input, otherPrev, otherSalt) => {
        const leaf = eventLeaf(input);
        expect(eventLeaf({ ...input, recordId: input.recordId + 'x' })).not.toBe(leaf);
        if (otherSalt !== (input.content as { salt: Hex }).salt) {
          expect(eventLeaf({ ...input, content: { ...input.content, salt: otherSalt } })).not.toBe(leaf);
        }
        if (input.seq > 0) {
          const nextSeq = input.seq === MAX_SEQ ? 1 : input.seq + 1;
          expect(eventLeaf({ ...input, seq: nextSeq })).not.toBe(leaf);
          if (otherPrev !== input.prevLeaf)
            expect(eventLeaf({ ...input, prevLeaf: otherPrev })).not.toBe(leaf);
        }
      }),
      { numRuns: Math.ceil(numRuns / 4) },
    );
  });

  it('chains: a later event commits to the leaf before it', () => {
    const issued = { recordId: 'r', seq: 0, prevLeaf: ZERO32, content: { type: 'issued', salt: SALT } };
    const sold = {
      recordId: 'r',
      seq: 1,
      prevLeaf: eventLeaf(issued),
      content: { type: 'sold', salt: SALT },
    };
    const forged = { ...issued, content: { type: 'issued', salt: `0x${'5b'.repeat(32)}` } };
    expect(eventLeaf({ ...sold, prevLeaf: eventLeaf(forged) })).not.toBe(eventLeaf(sold));
  });
});

describe('assertLeafInput', () => {
  const base: LeafInput = { recordId: 'r', seq: 1, prevLeaf: PREV, content: { salt: SALT } };
  const bad: [string, Partial<LeafInput> & Record<string, unknown>, RegExp][] = [
    [
      'seq 0 with a non-zero prevLeaf',
      { seq: 0, prevLeaf: PREV },
      /prevLeaf must be zero exactly when seq is 0/,
    ],
    [
      'seq > 0 with a zero prevLeaf',
      { seq: 1, prevLeaf: ZERO32 },
      /prevLeaf must be zero exactly when seq is 0/,
    ],
    ['a missing salt', { content: { type: 'issued' } }, /content\.salt/],
    ['a null salt', { content: { salt: null } }, /content\.salt/],
    ['a numeric salt', { content: { salt: 5 } }, /content\.salt/],
    ['a 31-byte salt', { content: { salt: `0x${'5a'.repeat(31)}` } }, /content\.salt/],
    ['a 33-byte salt', { content: { salt: `0x${'5a'.repeat(33)}` } }, /content\.salt/],
    ['an uppercase salt', { content: { salt: `0x${'5A'.repeat(32)}` } }, /content\.salt/],
    ['a salt without 0x', { content: { salt: '5a'.repeat(32) } }, /content\.salt/],
    ['a salt of non-hex digits', { content: { salt: `0x${'zz'.repeat(32)}` } }, /content\.salt/],
    ['a negative seq', { seq: -1 }, /seq must be an integer/],
    ['seq 2^32', { seq: MAX_SEQ + 1 }, /seq must be an integer/],
    ['a fractional seq', { seq: 1.5 }, /seq must be an integer/],
    ['a NaN seq', { seq: NaN }, /seq must be an integer/],
    ['a string seq', { seq: '1' as unknown as number }, /seq must be an integer/],
    ['an empty recordId', { recordId: '' }, /recordId/],
    ['a non-string recordId', { recordId: 7 as unknown as string }, /recordId/],
    ['a short prevLeaf', { prevLeaf: `0x${'ab'.repeat(31)}` }, /prevLeaf/],
    ['an uppercase prevLeaf', { prevLeaf: `0x${'AB'.repeat(32)}` }, /prevLeaf/],
  ];
  it.each(bad)('rejects %s with a TypeError', (_, patch, message) => {
    const input = { ...base, ...patch } as LeafInput;
    expect(() => assertLeafInput(input)).toThrow(TypeError);
    expect(() => assertLeafInput(input)).toThrow(message);
    expect(() => eventLeaf(input)).toThrow(message);
  });

  it.each([0, 1, MAX_SEQ])('accepts seq %d', (seq) => {
    const input = { ...base, seq, prevLeaf: seq === 0 ? ZERO32 : PREV };
    expect(() => assertLeafInput(input)).not.toThrow();
    expect(eventLeaf(input)).toBe(referenceLeaf(input));
  });

  it('rejects content that JCS cannot serialize', () => {
    expect(() => eventLeaf({ ...base, content: { salt: SALT, x: NaN } })).toThrow(TypeError);
    expect(() => eventLeaf({ ...base, content: { salt: SALT, x: undefined } })).toThrow(TypeError);
  });
});

describe('recordKey and contentHash', () => {
  it('are keccak256 of the UTF-8 of the id and of the JCS of the content', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.jsonValue({ stringUnit: 'binary' }), (id, value) => {
        expect(recordKey(id)).toBe(ethersKeccak(toUtf8Bytes(id)));
        const content = { value };
        expect(contentHash(content)).toBe(ethersKeccak(toUtf8Bytes(canonicalize(content)!)));
      }),
      { numRuns },
    );
  });
});

describe('secretCommitment', () => {
  /** keccak256(secretSalt ++ utf8(trim(NFC(secret)))), with ethers. */
  const reference = (secret: string, salt: Hex) =>
    ethersKeccak(concat([salt, toUtf8Bytes(secret.normalize('NFC').trim())]));

  it('is keccak256(salt ++ utf8(trim(NFC(secret))))', () => {
    expect(secretCommitment('VK7JG-NPHTM', SALT)).toBe(
      ethersKeccak(concat([SALT, toUtf8Bytes('VK7JG-NPHTM')])),
    );
    expect(secretCommitment('VK7JG-NPHTM', SALT)).toBe(
      solidityPackedKeccak256(['bytes32', 'string'], [SALT, 'VK7JG-NPHTM']),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), bytes32, (secret, salt) => {
        expect(secretCommitment(secret, salt)).toBe(reference(secret, salt));
      }),
      { numRuns },
    );
  });

  it('normalises to NFC: composed and decomposed spellings commit alike', () => {
    expect(secretCommitment('Cafe\u0301', SALT)).toBe(secretCommitment('Caf\u00e9', SALT));
    expect(secretCommitment('\u1100\u1161', SALT)).toBe(secretCommitment('\uac00', SALT)); // Hangul jamo
  });

  it('trims surrounding whitespace, including full-width and no-break spaces, but not inner spaces', () => {
    const c = secretCommitment('8831 2210 9942', SALT);
    expect(secretCommitment('  8831 2210 9942\n', SALT)).toBe(c);
    expect(secretCommitment('\t8831 2210 9942\r\n', SALT)).toBe(c);
    expect(secretCommitment('\u30008831 2210 9942\u00a0', SALT)).toBe(c);
    expect(secretCommitment('883122109942', SALT)).not.toBe(c);
  });

  it('normalises and trims in either order alike (docs/proof-format.md says the steps commute)', () => {
    const spaces = fc.constantFrom(
      ' ',
      '\t',
      '\n',
      '\u00a0',
      '\u2000',
      '\u2001',
      '\u3000',
      '\ufeff',
      '\u0301',
    );
    const text = fc
      .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 4 }), spaces))
      .map((a) => a.join(''));
    fc.assert(
      fc.property(text, (s) => {
        expect(s.normalize('NFC').trim()).toBe(s.trim().normalize('NFC'));
      }),
      { numRuns: numRuns * 5 },
    );
  });

  it('maps white space to white space under NFC and nothing else to white space (so the steps commute)', () => {
    const isSpace = (c: string) => c.length > 0 && c.trim() === '';
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      const n = c.normalize('NFC');
      if (isSpace(c) !== isSpace(n) || (!isSpace(c) && n.trim() !== n)) {
        throw new Error(`U+${cp.toString(16)} breaks the commutation of trim and NFC`);
      }
    }
  });

  it('is case sensitive', () => {
    expect(secretCommitment('abc', SALT)).not.toBe(secretCommitment('ABC', SALT));
  });

  it('depends on the salt', () => {
    fc.assert(
      fc.property(fc.string(), bytes32, bytes32, (secret, s1, s2) => {
        fc.pre(s1 !== s2);
        expect(secretCommitment(secret, s1)).not.toBe(secretCommitment(secret, s2));
      }),
      { numRuns: Math.ceil(numRuns / 4) },
    );
  });

  it('commits even to an empty secret (the salt alone)', () => {
    expect(secretCommitment('   ', SALT)).toBe(ethersKeccak(SALT));
  });

  it.each([
    ['a short salt', `0x${'5a'.repeat(31)}`],
    ['an uppercase salt', `0x${'5A'.repeat(32)}`],
    ['a salt without 0x', '5a'.repeat(32)],
  ])('rejects %s', (_, salt) => {
    expect(() => secretCommitment('x', salt as Hex)).toThrow(/secretSalt/);
  });
});
