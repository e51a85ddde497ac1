/**
 * Tampering, one bit at a time: for random valid bundles (batches of 1-64 leaves at any position, any
 * record id, seq 0 or later with its prevLeaf, content with random members, a salt and a secret
 * commitment), flipping any single bit of the leaf, any proof node, the root, prevLeaf, seq, the record
 * id, any content member's value (salt and secretCommitment included) or a content key makes
 * verifyBundle fail, with the failure code the check order gives. A secret commitment changes with any
 * bit of its salt, and with any bit of the secret that changes the secret's canonical text.
 *
 * test/core/bundle.test.ts verifies whole random batches and changes the first digit of a proof node or
 * the root; this covers every field and every bit, with the one bit-flip helper the fuzzers share.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUNDLE_FORMAT_V1,
  MerkleTree,
  ZERO32,
  bytesToHex,
  eventLeaf,
  keccak256Hex,
  secretCommitment,
  utf8,
  verifyBundle,
  type BundleFailure,
  type Hex,
  type ProofBundleV1,
} from '../../src/core/index.ts';
import { flipHexBit, flipIntegerBit, flipNumberBit, flipTextBit, type Path } from '../helpers/hostile.ts';

const numRuns = Number(process.env.FC_NUM_RUNS ?? (process.env.CI ? 1000 : 200));

const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(bytesToHex);

/** A valid anchored bundle, and the secret and salt behind its commitment. */
const validBundle = fc
  .record({
    size: fc.integer({ min: 1, max: 64 }),
    position: fc.nat(),
    recordId: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
    seq: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffff_ffff })),
    prevLeaf: hex32.filter((h) => h !== ZERO32),
    members: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
    type: fc.constantFrom('issued', 'sold', 'activated', 'transferred', 'revoked', 'refunded'),
    salt: hex32,
    secret: fc.option(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), { nil: null }),
    secretSalt: hex32,
  })
  .map((r): ProofBundleV1 => {
    const content = {
      ...r.members,
      type: r.type,
      secretCommitment: r.secret === null ? null : secretCommitment(r.secret, r.secretSalt),
      salt: r.salt,
    };
    const event = { recordId: r.recordId, seq: r.seq, prevLeaf: r.seq === 0 ? ZERO32 : r.prevLeaf, content };
    const index = r.position % r.size;
    const leaves = Array.from({ length: r.size }, (_, i) =>
      i === index ? eventLeaf(event) : keccak256Hex(utf8(`other leaf ${i}`)),
    );
    const tree = MerkleTree.fromLeaves(leaves);
    // Through JSON, as bundles travel: what is flipped below is what a verifier would read.
    return JSON.parse(
      JSON.stringify({
        format: BUNDLE_FORMAT_V1,
        ...event,
        leaf: tree.leaf(index),
        proof: tree.proof(index),
        root: tree.root,
        batchId: 7,
        anchor: {
          chainId: 31337,
          contract: `0x${'5f'.repeat(20)}`,
          txHash: `0x${'22'.repeat(32)}`,
          blockNumber: 12,
          status: 'final',
        },
      }),
    ) as ProofBundleV1;
  });

/** Paths to every string, number and boolean inside `value`, from `path`. */
function primitivePaths(value: unknown, path: Path): Path[] {
  if (value === null) return [];
  if (typeof value !== 'object') return typeof value === 'string' && value === '' ? [] : [path];
  return Object.entries(value).flatMap(([k, v]) =>
    primitivePaths(v, [...path, Array.isArray(value) ? Number(k) : k]),
  );
}

function get(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, step) => (node as Record<string | number, unknown>)[step], root);
}

function set(root: unknown, path: Path, value: unknown): void {
  (get(root, path.slice(0, -1)) as Record<string | number, unknown>)[path.at(-1)!] = value;
}

const HASH_FIELDS = new Set(['leaf', 'proof', 'root', 'prevLeaf']);
const HEX_MEMBERS = new Set(['salt', 'secretCommitment']);

/**
 * `bundle` with one bit of the member at `path` flipped (`pick` and `bit` choose which bit), and the
 * failures that may follow; null when the flip changes nothing a verifier can see (0 and -0 are the
 * same JSON number).
 */
function flipOneBit(
  bundle: ProofBundleV1,
  path: Path,
  pick: number,
  bit: number,
): { tampered: ProofBundleV1; failures: BundleFailure[] } | null {
  const tampered = JSON.parse(JSON.stringify(bundle)) as ProofBundleV1;
  const value = get(tampered, path);
  const [top] = path;
  if (typeof value === 'boolean') {
    set(tampered, path, !value);
    return { tampered, failures: ['leaf_mismatch'] };
  }
  if (typeof value === 'number') {
    if (top === 'seq') {
      // Out of uint32, or across the seq-0/prevLeaf rule: malformed; otherwise another leaf.
      set(tampered, path, flipIntegerBit(value, bit % 53));
      return { tampered, failures: ['leaf_mismatch', 'malformed'] };
    }
    const flipped = flipNumberBit(value, bit % 64);
    if (Number.isFinite(flipped) && JSON.stringify(flipped) === JSON.stringify(value)) return null;
    set(tampered, path, flipped);
    return { tampered, failures: ['leaf_mismatch', 'malformed'] }; // NaN and Infinity are not JSON
  }
  const text = value as string;
  const isHash =
    HASH_FIELDS.has(String(top)) ||
    (top === 'content' && path.length === 2 && HEX_MEMBERS.has(String(path[1])));
  if (isHash) {
    set(tampered, path, flipHexBit(text as Hex, bit % (4 * (text.length - 2))));
    const failures: Record<string, BundleFailure[]> = {
      leaf: ['leaf_mismatch'],
      proof: ['proof_mismatch'],
      root: ['proof_mismatch'],
      // A seq-0 bundle's prevLeaf must stay zero; a later one's may not become zero.
      prevLeaf: bundle.seq === 0 ? ['malformed'] : ['leaf_mismatch', 'malformed'],
      content: ['leaf_mismatch'],
    };
    return { tampered, failures: failures[top as string]! };
  }
  // Text: a bit of one UTF-16 code unit; a lone surrogate left behind makes the bundle malformed.
  set(tampered, path, flipTextBit(text, pick % text.length, bit % 16));
  return { tampered, failures: ['leaf_mismatch', 'malformed'] };
}

describe('flipping one bit', () => {
  it(`of any field of a valid bundle makes it fail (${numRuns} runs)`, () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(validBundle, fc.nat(), fc.nat(), fc.nat(), fc.nat(), (bundle, which, member, pick, bit) => {
        expect(verifyBundle(bundle)).toMatchObject({ valid: true });
        // A field first, each as likely as the others, then one of its members.
        const fields: Path[][] = [
          [['leaf']],
          [['root']],
          [['prevLeaf']],
          [['seq']],
          [['recordId']],
          bundle.proof!.map((_, i) => ['proof', i]),
          primitivePaths(bundle.content, ['content']),
        ];
        const field = fields[which % fields.length]!;
        fc.pre(field.length > 0); // a one-leaf batch has no proof nodes
        const path = field[member % field.length]!;
        const flip = flipOneBit(bundle, path, pick, bit);
        fc.pre(flip !== null);
        seen.add(String(path[0]));
        const verdict = verifyBundle(flip!.tampered);
        expect(verdict.valid, `${path.join('.')} bit ${bit}`).toBe(false);
        expect(flip!.failures, path.join('.')).toContain(verdict.valid ? 'valid' : verdict.failure);
      }),
      { numRuns },
    );
    if (numRuns >= 100) {
      expect([...seen].sort()).toEqual(['content', 'leaf', 'prevLeaf', 'proof', 'recordId', 'root', 'seq']);
    }
  });

  it('of a content key makes it fail', () => {
    fc.assert(
      fc.property(validBundle, fc.nat(), fc.nat(), fc.nat({ max: 15 }), (bundle, which, pick, bit) => {
        const keys = Object.keys(bundle.content);
        const key = keys[which % keys.length]!;
        fc.pre(key !== '');
        const renamed = flipTextBit(key, pick % key.length, bit);
        fc.pre(!(renamed in bundle.content));
        const content = Object.fromEntries(
          Object.entries(bundle.content).map(([k, v]) => [k === key ? renamed : k, v]),
        );
        const verdict = verifyBundle({ ...bundle, content });
        expect(verdict.valid).toBe(false);
        // Renaming salt away leaves no salt: malformed, as is a key with a lone surrogate.
        expect(['leaf_mismatch', 'malformed']).toContain(verdict.valid ? 'valid' : verdict.failure);
      }),
      { numRuns: Math.ceil(numRuns / 4) },
    );
  });

  it('of a record id into a lone surrogate makes it malformed, not the id UTF-8 writes in its place', () => {
    // U+FFFD and U+DFFD differ in bit 13; UTF-8 writes a lone U+DFFD as U+FFFD, so without the rule the
    // two ids would share a leaf.
    const content = { type: 'issued', salt: bytesToHex(randomBytes(32)) };
    const leaf = eventLeaf({ recordId: 'id-\ufffd', seq: 0, prevLeaf: ZERO32, content });
    const bundle = {
      format: BUNDLE_FORMAT_V1,
      recordId: flipTextBit('id-\ufffd', 3, 13),
      seq: 0,
      prevLeaf: ZERO32,
      content,
      leaf,
      proof: [],
      root: leaf,
      batchId: 1,
      anchor: {
        chainId: 1,
        contract: `0x${'12'.repeat(20)}`,
        txHash: ZERO32,
        blockNumber: 1,
        status: 'final',
      },
    };
    expect(bundle.recordId).toBe('id-\udffd');
    expect(verifyBundle({ ...bundle, recordId: 'id-\ufffd' })).toMatchObject({ valid: true });
    expect(verifyBundle(bundle)).toMatchObject({
      valid: false,
      failure: 'malformed',
      reason: expect.stringMatching(/surrogate/),
    });
    expect(() => eventLeaf({ recordId: 'id-\udffd', seq: 0, prevLeaf: ZERO32, content })).toThrow(TypeError);
  });
});

describe('a secret commitment', () => {
  /** What the commitment hashes after the salt: the secret, NFC-normalised and trimmed, as UTF-8. */
  const canonical = (secret: string) => Buffer.from(secret.normalize('NFC').trim(), 'utf8');

  it(`changes with any bit of its salt, and with any bit of the secret that changes its canonical text (${numRuns} runs)`, () => {
    let secretChanged = 0;
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
        hex32,
        fc.nat(),
        fc.nat({ max: 255 }),
        (secret, salt, pick, bit) => {
          const commitment = secretCommitment(secret, salt);
          expect(secretCommitment(secret, flipHexBit(salt, bit))).not.toBe(commitment);

          const flipped = flipTextBit(secret, pick % secret.length, bit % 16);
          const same = canonical(flipped).equals(canonical(secret));
          if (!same) secretChanged++;
          expect(secretCommitment(flipped, salt) === commitment, JSON.stringify([secret, flipped])).toBe(
            same,
          );
        },
      ),
      { numRuns },
    );
    expect(secretChanged).toBeGreaterThan(numRuns * 0.9);
  });

  it('is the same for the texts a consumer may type for one secret, and only those', () => {
    const salt = bytesToHex(randomBytes(32));
    const commit = (s: string) => secretCommitment(s, salt);
    // By design: NFC and surrounding whitespace do not matter.
    expect(commit('cafe\u0301')).toBe(commit('caf\u00e9'));
    expect(commit('PIN-1234\t')).toBe(commit(flipTextBit('PIN-1234\t', 8, 2))); // tab to carriage return
    // One bit anywhere else does.
    expect(commit('PIN-1234')).not.toBe(commit(flipTextBit('PIN-1234', 7, 0)));
    // The core writes a lone surrogate as U+FFFD, as UTF-8 must; the API refuses lone surrogates in
    // secrets (TEXT_PATTERN in src/http/routes/schemas.ts), so no registered secret holds one.
    expect(commit('\udffd')).toBe(commit('\ufffd'));
  });
});
