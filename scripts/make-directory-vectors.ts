/**
 * Writes the item directory's test vectors, test/vectors/directory-*.json (docs/proof-format.md §9
 * describes them). Everything is fixed, so the output is byte-for-byte reproducible;
 * test/core/directory-vectors.test.ts loads the committed files and checks that
 * `buildDirectoryVectors()` still produces them exactly. scripts/make-vectors.ts writes them with the
 * bundle vectors (it owns test/vectors/), and this runs alone too:
 *
 *   npx tsx scripts/make-directory-vectors.ts           rewrite test/vectors/directory-*.json
 *   npx tsx scripts/make-directory-vectors.ts --check   fail if the committed files differ
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  bytesToHex,
  decodeDirectoryProof,
  EMPTY_DIRECTORY_ROOT,
  encodeDirectoryProof,
  hexToBytes,
  InMemoryDirectory,
  keccak256Hex,
  recordKey,
  utf8,
  verifyDirectoryProof,
  type DirectoryProof,
  type DirectoryValue,
  type Hex,
} from '../src/core/index.ts';

const VECTORS_DIR = fileURLToPath(new URL('../test/vectors/', import.meta.url));
export const DIRECTORY_VECTOR_PREFIX = 'directory-';

/** A fixed 32-byte value named by `label`, so the vectors hold no randomness. */
const fixed = (label: string): Hex => keccak256Hex(utf8(`proofmark directory vector: ${label}`));

interface Entry {
  recordId: string;
  key: Hex;
  value: DirectoryValue;
}

const entry = (recordId: string, seq: number, ended = false): Entry => ({
  recordId,
  key: recordKey(recordId),
  value: { seq, leaf: fixed(`leaf ${recordId} ${seq}`), ended },
});

// Batch 1 issues six records; batch 2 sells rec-a, revokes rec-b (ending it), takes rec-c through
// two events (the later one counts) and issues rec-g.
const BATCH_1 = ['rec-a', 'rec-b', 'rec-c', 'rec-d', 'rec-e', 'rec-f'].map((id) => entry(id, 0));
const BATCH_2 = [entry('rec-a', 1), entry('rec-b', 1, true), entry('rec-c', 2), entry('rec-g', 0)];

/** A proof as readable fields beside its bytes. */
function fields(proof: DirectoryProof) {
  return { depth: proof.depth, siblings: proof.siblings, terminal: proof.terminal };
}

function vector(description: string, root: Hex, recordId: string, proof: Uint8Array | Hex) {
  const key = recordKey(recordId);
  const bytes = typeof proof === 'string' ? hexToBytes(proof) : proof;
  const verdict = verifyDirectoryProof(root, key, bytes);
  const decoded = decodeDirectoryProof(bytes);
  return {
    description,
    root,
    recordId,
    key,
    proof: bytesToHex(bytes),
    ...(verdict.status !== 'invalid' && decoded ? { proofFields: fields(decoded) } : {}),
    expected: verdict.status === 'invalid' ? { status: 'invalid' } : verdict,
  };
}

/** The first of absent-0, absent-1, … whose walk ends at `kind` in `directory`. */
function absentId(directory: InMemoryDirectory, kind: 'empty' | 'other'): string {
  for (let i = 0; ; i++) {
    const id = `absent-${i}`;
    if (directory.prove(recordKey(id)).terminal.kind === kind) return id;
  }
}

/** `proof` with byte `at` xor `mask`. */
function flipped(proof: Uint8Array, at: number, mask: number): Uint8Array {
  const copy = proof.slice();
  copy[at]! ^= mask;
  return copy;
}

export function buildDirectoryVectors(): Record<string, string> {
  const directory = new InMemoryDirectory();
  const root1 = directory.apply(BATCH_1);
  const proofA1 = encodeDirectoryProof(directory.prove(recordKey('rec-a')));
  const root2 = directory.apply(BATCH_2);
  const proof = (id: string) => encodeDirectoryProof(directory.prove(recordKey(id)));
  const emptyEnd = absentId(directory, 'empty');
  const otherEnd = absentId(directory, 'other');
  const proofA = proof('rec-a');
  const proofOther = proof(otherEnd);
  // The other key's leaf begins after the header, bitmap and siblings; its key's first byte is there.
  const otherKeyAt = proofOther.length - 32 - 37;

  const files: Record<string, unknown> = {
    'directory-history.json': {
      description:
        'Two batches of the directory: the entries each batch applies (a record listed in both takes its batch-2 value) and the root after each. Rebuild each root from the entries of every batch up to it.',
      emptyRoot: EMPTY_DIRECTORY_ROOT,
      batches: [
        { batchId: 1, entries: BATCH_1, root: root1 },
        { batchId: 2, entries: BATCH_2, root: root2 },
      ],
    },
    'directory-membership.json': vector(
      'rec-a, sold in batch 2: present with seq 1.',
      root2,
      'rec-a',
      proofA,
    ),
    'directory-membership-ended.json': vector(
      'rec-b, revoked in batch 2: present, ended.',
      root2,
      'rec-b',
      proof('rec-b'),
    ),
    'directory-membership-last-event.json': vector(
      'rec-c, with two events in batch 2: present with the later one (seq 2).',
      root2,
      'rec-c',
      proof('rec-c'),
    ),
    'directory-non-membership-empty.json': vector(
      `${emptyEnd}, never registered: absent, its walk ends at an empty node.`,
      root2,
      emptyEnd,
      proof(emptyEnd),
    ),
    'directory-non-membership-other-leaf.json': vector(
      `${otherEnd}, never registered: absent, its walk ends at another record's leaf.`,
      root2,
      otherEnd,
      proofOther,
    ),
    'directory-empty.json': vector(
      'Any record in an empty directory: absent, at the root.',
      EMPTY_DIRECTORY_ROOT,
      'rec-a',
      encodeDirectoryProof(new InMemoryDirectory().prove(recordKey('rec-a'))),
    ),
    'directory-stale.json': {
      ...vector(
        "rec-a's proof as of batch 1 (seq 0), checked against batch 2's root: refused, its state moved on.",
        root2,
        'rec-a',
        proofA1,
      ),
      rootOfProof: root1,
      expectedAgainstRootOfProof: verifyDirectoryProof(root1, recordKey('rec-a'), proofA1),
    },
    'directory-tampered-sibling.json': vector(
      "rec-a's proof with the last byte of its first sibling changed.",
      root2,
      'rec-a',
      flipped(proofA, 4 + Math.ceil(decodeDirectoryProof(proofA)!.depth / 8) + 31, 0x01),
    ),
    'directory-tampered-seq.json': vector(
      "rec-a's proof claiming seq 2 instead of 1.",
      root2,
      'rec-a',
      flipped(proofA, proofA.length - 37 + 3, 0x03),
    ),
    'directory-tampered-ended.json': vector(
      "rec-a's proof claiming the record ended.",
      root2,
      'rec-a',
      flipped(proofA, proofA.length - 1, 0x01),
    ),
    'directory-tampered-other-key.json': vector(
      `${otherEnd}'s non-membership proof with the other record's key changed.`,
      root2,
      otherEnd,
      flipped(proofOther, otherKeyAt, 0x80),
    ),
    'directory-tampered-trailing-byte.json': vector(
      "rec-a's proof with one byte appended.",
      root2,
      'rec-a',
      Uint8Array.of(...proofA, 0),
    ),
    'directory-tampered-wrong-key.json': vector("rec-a's proof presented for rec-d.", root2, 'rec-d', proofA),
  };
  return Object.fromEntries(
    Object.entries(files).map(([name, value]) => [name, `${JSON.stringify(value, null, 2)}\n`]),
  );
}

function main(): void {
  const vectors = buildDirectoryVectors();
  const committed = (existsSync(VECTORS_DIR) ? readdirSync(VECTORS_DIR) : []).filter((name) =>
    name.startsWith(DIRECTORY_VECTOR_PREFIX),
  );
  if (process.argv.includes('--check')) {
    const stale = Object.entries(vectors)
      .filter(
        ([name, text]) => !committed.includes(name) || readFileSync(join(VECTORS_DIR, name), 'utf8') !== text,
      )
      .map(([name]) => name);
    const extra = committed.filter((name) => !(name in vectors));
    if (stale.length || extra.length) {
      console.error(`directory vectors differ: ${[...stale, ...extra].join(', ')}`);
      process.exit(1);
    }
    console.log(`${committed.length} directory vectors match`);
    return;
  }
  for (const name of committed) if (!(name in vectors)) rmSync(join(VECTORS_DIR, name));
  for (const [name, text] of Object.entries(vectors)) writeFileSync(join(VECTORS_DIR, name), text);
  console.log(`wrote ${Object.keys(vectors).length} directory vectors to test/vectors/`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
