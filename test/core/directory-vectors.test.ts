/**
 * The committed directory vectors (test/vectors/directory-*.json, docs/proof-format.md §9): read
 * from disk every run, each checked by the core's verifier and by the naive second implementation,
 * and still exactly what scripts/make-directory-vectors.ts builds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDirectoryVectors, DIRECTORY_VECTOR_PREFIX } from '../../scripts/make-directory-vectors.ts';
import { VECTORS_DIR } from '../../scripts/make-vectors.ts';
import {
  decodeDirectoryProof,
  EMPTY_DIRECTORY_ROOT,
  InMemoryDirectory,
  recordKey,
  verifyDirectoryProof,
  type DirectoryValue,
  type DirectoryVerdict,
  type Hex,
} from '../../src/core/index.ts';
import { referenceRoot } from './directory-reference.ts';

interface ProofVector {
  description: string;
  root: Hex;
  recordId: string;
  key: Hex;
  proof: Hex;
  proofFields?: unknown;
  expected: { status: DirectoryVerdict['status']; value?: DirectoryValue };
  rootOfProof?: Hex;
  expectedAgainstRootOfProof?: DirectoryVerdict;
}

interface HistoryVector {
  emptyRoot: Hex;
  batches: { batchId: number; entries: { recordId: string; key: Hex; value: DirectoryValue }[]; root: Hex }[];
}

const files = readdirSync(VECTORS_DIR)
  .filter((name) => name.startsWith(DIRECTORY_VECTOR_PREFIX) && name.endsWith('.json'))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(VECTORS_DIR, name), 'utf8') }));
const proofVectors = files
  .filter(({ name }) => name !== 'directory-history.json')
  .map(({ name, text }) => [name, JSON.parse(text) as ProofVector] as const);

describe('test/vectors/directory-*', () => {
  it('are exactly what scripts/make-directory-vectors.ts builds, byte for byte', () => {
    const built = buildDirectoryVectors();
    expect(files.map((f) => f.name)).toEqual(Object.keys(built).sort());
    for (const { name, text } of files) expect(text, `test/vectors/${name}`).toBe(built[name]);
  });

  it('cover membership, an ended record, non-membership both ways, a stale proof and tamperings', () => {
    const byStatus = (status: string) => proofVectors.filter(([, v]) => v.expected.status === status);
    expect(byStatus('present').some(([, v]) => v.expected.value?.ended)).toBe(true);
    const absentEnds = byStatus('absent').map(([, v]) =>
      decodeDirectoryProof(Buffer.from(v.proof.slice(2), 'hex'))!,
    );
    expect(new Set(absentEnds.map((p) => p.terminal.kind))).toEqual(new Set(['empty', 'other']));
    expect(proofVectors.some(([, v]) => v.rootOfProof !== undefined)).toBe(true);
    expect(byStatus('invalid').length).toBeGreaterThanOrEqual(6);
  });

  it('history: each root rebuilds from the entries, in the core and in the naive implementation', () => {
    const history = JSON.parse(files.find((f) => f.name === 'directory-history.json')!.text) as HistoryVector;
    expect(history.emptyRoot).toBe(EMPTY_DIRECTORY_ROOT);
    const directory = new InMemoryDirectory();
    const model = new Map<Hex, DirectoryValue>();
    for (const batch of history.batches) {
      for (const e of batch.entries) {
        expect(e.key).toBe(recordKey(e.recordId));
        model.set(e.key, e.value);
      }
      expect(directory.apply(batch.entries)).toBe(batch.root);
      expect(referenceRoot(new Map(model))).toBe(batch.root);
    }
  });

  describe.each(proofVectors)('%s', (_name, v) => {
    it('verifies as expected', () => {
      expect(v.key).toBe(recordKey(v.recordId));
      const verdict = verifyDirectoryProof(v.root, v.key, v.proof);
      expect(verdict.status).toBe(v.expected.status);
      if (verdict.status !== 'invalid') expect(verdict).toEqual(v.expected);
      if (v.proofFields)
        expect(decodeDirectoryProof(Buffer.from(v.proof.slice(2), 'hex'))).toEqual(v.proofFields);
      if (v.rootOfProof) {
        expect(verifyDirectoryProof(v.rootOfProof, v.key, v.proof)).toEqual(v.expectedAgainstRootOfProof);
      }
    });
  });
});
