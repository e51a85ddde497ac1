/**
 * Writes the state-proof and bundle v2 vectors, test/vectors/state-*.json (docs/proof-format.md
 * §10): real events with real leaves in two batches, the directory after each, v2 bundles and
 * freshness cases (current, superseded, an absent record, a stale proof, a relabelled one, a
 * tampered state). Fixed inputs, so the output is reproducible; test/core/state-vectors.test.ts
 * reloads the committed files every run and checks this still builds them exactly.
 *
 *   npx tsx scripts/make-state-vectors.ts           rewrite test/vectors/state-*.json
 *   npx tsx scripts/make-state-vectors.ts --check   fail if the committed files differ
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  BUNDLE_FORMAT_V2,
  bytesToHex,
  encodeDirectoryProof,
  endsRecord,
  eventLeaf,
  InMemoryDirectory,
  keccak256Hex,
  MerkleTree,
  recordKey,
  STATE_PROOF_FORMAT,
  utf8,
  ZERO32,
  type DirectoryValue,
  type Hex,
  type ProofBundleV2,
  type StateProofDocument,
} from '../src/core/index.ts';

const VECTORS_DIR = fileURLToPath(new URL('../test/vectors/', import.meta.url));
export const STATE_VECTOR_PREFIX = 'state-';
const CHAIN = { chainId: 31337, contract: '0x5fbdb2315678afecb367f032d93f642f64180aa3' as Hex };
const fixed = (label: string): Hex => keccak256Hex(utf8(`proofmark state vector: ${label}`));

interface Event {
  recordId: string;
  seq: number;
  prevLeaf: Hex;
  content: Record<string, unknown>;
  leaf: Hex;
  batchId: number;
}

function event(recordId: string, seq: number, prevLeaf: Hex, type: string, batchId: number): Event {
  const content = { type, at: `2026-01-0${batchId}T00:00:00.000Z`, salt: fixed(`salt ${recordId} ${seq}`) };
  return { recordId, seq, prevLeaf, content, leaf: eventLeaf({ recordId, seq, prevLeaf, content }), batchId };
}

/** Batch 1 issues lic-1 and lic-2; batch 2 revokes lic-1 (ending it) and sells lic-2. */
function history() {
  const issued1 = event('lic-1', 0, ZERO32, 'issued', 1);
  const issued2 = event('lic-2', 0, ZERO32, 'issued', 1);
  const revoked1 = event('lic-1', 1, issued1.leaf, 'revoked', 2);
  const sold2 = event('lic-2', 1, issued2.leaf, 'sold', 2);
  const batches = [
    [issued1, issued2],
    [revoked1, sold2],
  ];
  const trees = batches.map((events) => MerkleTree.fromLeaves(events.map((e) => e.leaf)));
  const directories = batches.map((_, upTo) => {
    const directory = new InMemoryDirectory();
    for (const events of batches.slice(0, upTo + 1)) {
      directory.apply(
        events.map((e) => ({
          key: recordKey(e.recordId),
          value: { seq: e.seq, leaf: e.leaf, ended: endsRecord(String(e.content.type)) },
        })),
      );
    }
    return directory;
  });
  return { issued1, issued2, revoked1, sold2, batches, trees, directories };
}

type History = ReturnType<typeof history>;

function valueOf(h: History, batchId: number, recordId: string): DirectoryValue | null {
  let value: DirectoryValue | null = null;
  for (const events of h.batches.slice(0, batchId)) {
    for (const e of events) {
      if (e.recordId === recordId)
        value = { seq: e.seq, leaf: e.leaf, ended: endsRecord(String(e.content.type)) };
    }
  }
  return value;
}

function stateDoc(h: History, batchId: number, recordId: string): StateProofDocument {
  const directory = h.directories[batchId - 1]!;
  return {
    format: STATE_PROOF_FORMAT,
    recordId,
    recordKey: recordKey(recordId),
    batchId,
    stateRoot: directory.root,
    anchor: null,
    value: valueOf(h, batchId, recordId),
    proof: bytesToHex(encodeDirectoryProof(directory.prove(recordKey(recordId)))),
  };
}

function bundleV2(h: History, e: Event): ProofBundleV2 {
  const tree = h.trees[e.batchId - 1]!;
  const index = h.batches[e.batchId - 1]!.indexOf(e);
  const state = stateDoc(h, e.batchId, e.recordId);
  return {
    format: BUNDLE_FORMAT_V2,
    recordId: e.recordId,
    seq: e.seq,
    prevLeaf: e.prevLeaf,
    content: e.content,
    leaf: e.leaf,
    proof: tree.proof(index),
    root: tree.root,
    batchId: e.batchId,
    anchor: { ...CHAIN, txHash: fixed(`tx ${e.batchId}`), blockNumber: 10 + e.batchId, status: 'final' },
    state: { batchId: state.batchId, stateRoot: state.stateRoot, value: state.value, proof: state.proof },
  };
}

/** Every vector, by file name. (`bundleV2`, not `bundle`: the v1 vector test reads every `bundle`.) */
export function buildStateVectors(): Map<string, string> {
  const h = history();
  const out = new Map<string, string>();
  const put = (name: string, doc: object) =>
    out.set(`${STATE_VECTOR_PREFIX}${name}.json`, `${JSON.stringify(doc, null, 2)}\n`);
  const anchored2 = { batchId: 2, stateRoot: h.directories[1]!.root };
  const asEvent = (e: Event) => ({ recordId: e.recordId, seq: e.seq, leaf: e.leaf });

  put('bundle-v2-membership', {
    description:
      "lic-2's issuance in batch 1, with its state under batch 1's directory root: seq 0, present.",
    bundleV2: bundleV2(h, h.issued2),
    expected: { valid: true },
  });
  put('bundle-v2-ended', {
    description: "lic-1's revocation in batch 2: its state under batch 2's root is that event, ended.",
    bundleV2: bundleV2(h, h.revoked1),
    expected: { valid: true },
  });
  const tampered = bundleV2(h, h.revoked1);
  put('bundle-v2-tampered-ended', {
    description: 'The revocation bundle with state.value.ended turned false: the proof shows another value.',
    bundleV2: {
      ...tampered,
      state: { ...tampered.state, value: { ...tampered.state.value!, ended: false } },
    },
    expected: { valid: false, failure: 'state_mismatch' },
  });
  put('freshness-current', {
    description:
      "lic-1's revocation, judged against batch 2 (the chain's latest) with the proof of batch 2: current.",
    event: asEvent(h.revoked1),
    anchored: anchored2,
    answer: stateDoc(h, 2, 'lic-1'),
    expected: { status: 'current', batchId: 2, value: valueOf(h, 2, 'lic-1') },
  });
  put('freshness-superseded', {
    description: "lic-1's issuance (batch 1), judged against batch 2: superseded by seq 1, which ended it.",
    event: asEvent(h.issued1),
    anchored: anchored2,
    answer: stateDoc(h, 2, 'lic-1'),
    expected: { status: 'superseded', batchId: 2, value: valueOf(h, 2, 'lic-1') },
  });
  put('freshness-stale', {
    description:
      "lic-1's issuance with the service answering batch 1's proof while the chain is at batch 2: unconfirmed.",
    event: asEvent(h.issued1),
    anchored: anchored2,
    answer: stateDoc(h, 1, 'lic-1'),
    expected: { status: 'unconfirmed' },
  });
  put('freshness-stale-relabelled', {
    description:
      "Batch 1's proof of lic-1 relabelled as batch 2's, under batch 2's root: it does not reach that root.",
    event: asEvent(h.issued1),
    anchored: anchored2,
    answer: { ...stateDoc(h, 1, 'lic-1'), batchId: 2, stateRoot: anchored2.stateRoot },
    expected: { status: 'unconfirmed' },
  });
  put('freshness-non-membership', {
    description:
      'lic-9 was never registered: its proof under batch 2 shows it absent, so nothing is current.',
    event: { recordId: 'lic-9', seq: 0, leaf: fixed('no such leaf') },
    anchored: anchored2,
    answer: stateDoc(h, 2, 'lic-9'),
    expected: { status: 'unconfirmed' },
  });
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const built = buildStateVectors();
  const committed = readdirSync(VECTORS_DIR).filter(
    (n) => n.startsWith(STATE_VECTOR_PREFIX) && n.endsWith('.json'),
  );
  if (process.argv.includes('--check')) {
    const stale = [...built].filter(([name, text]) => {
      try {
        return readFileSync(join(VECTORS_DIR, name), 'utf8') !== text;
      } catch {
        return true;
      }
    });
    if (stale.length > 0) {
      console.error(`stale: ${stale.map(([n]) => n).join(', ')}; run npx tsx scripts/make-state-vectors.ts`);
      process.exit(1);
    }
  } else {
    for (const name of committed) if (!built.has(name)) rmSync(join(VECTORS_DIR, name));
    for (const [name, text] of built) writeFileSync(join(VECTORS_DIR, name), text);
    console.log(`wrote ${built.size} vectors`);
  }
}
