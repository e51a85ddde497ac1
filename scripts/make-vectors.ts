/**
 * Writes the proof-format test vectors into test/vectors/ (docs/proof-format.md describes them).
 * Everything is fixed (ids, salts, times, tx hashes), so the output is byte-for-byte reproducible;
 * test/core/bundle.test.ts loads the committed files and also checks that `buildVectors()` still
 * produces them exactly, so a change to the leaf, JCS or tree rules cannot slip in unnoticed.
 *
 *   npx tsx scripts/make-vectors.ts           rewrite test/vectors/*.json
 *   npx tsx scripts/make-vectors.ts --check   fail if the committed files differ
 */
import { existsSync, readdirSync, readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AbiCoder } from 'ethers';
import { buildDirectoryVectors } from './make-directory-vectors.ts';
import { buildStateVectors } from './make-state-vectors.ts';
import {
  BUNDLE_FORMAT_V1,
  MerkleTree,
  ZERO32,
  canonicalJson,
  contentHash,
  eventLeaf,
  keccak256Hex,
  recordKey,
  secretCommitment,
  utf8,
  verifyBundle,
  type AnchorStatus,
  type BundleFailure,
  type Hex,
  type ProofBundleV1,
} from '../src/core/index.ts';

export const VECTORS_DIR = fileURLToPath(new URL('../test/vectors/', import.meta.url));

export const CHAIN_ID = 31337;
export const CONTRACT: Hex = '0x5FbDB2315678afecb367f032d93F642f64180aa3';

/** A fixed 32-byte value named by `label`, so the vectors hold no randomness. */
const fixed = (label: string): Hex => keccak256Hex(utf8(`proofmark test vector: ${label}`));

interface EventSpec {
  recordId: string;
  seq: number;
  prevLeaf: Hex;
  content: Record<string, unknown>;
}

function event(recordId: string, seq: number, prevLeaf: Hex, content: Record<string, unknown>): EventSpec {
  return { recordId, seq, prevLeaf, content };
}

function leafOf(e: EventSpec): Hex {
  return eventLeaf(e);
}

function issued(
  recordId: string,
  kind: 'licence' | 'account' | 'card',
  fields: { sku: string; productName: string; serial: string; metadata: Record<string, unknown> },
  secret: string | null,
  at: string,
): EventSpec {
  // Same members as issuanceContent() in src/service/registration.ts.
  return event(recordId, 0, ZERO32, {
    type: 'issued',
    merchantId: 'mch_7Qk2vX9sLr4T',
    kind,
    sku: fields.sku,
    productName: fields.productName,
    serial: fields.serial,
    metadata: fields.metadata,
    secretCommitment: secret === null ? null : secretCommitment(secret, fixed(`secret salt ${recordId}`)),
    at,
    salt: fixed(`content salt ${recordId} 0`),
  });
}

// Records. L: a licence issued in batch 1 (alone) and sold in batch 2; A: a game account in batch 2;
// C: a prepaid card not yet batched; F1..F3: other merchants' issuances that fill batch 2.
const L0 = issued(
  'dGVzdC1saWNlbmNlLTAwMQ',
  'licence',
  {
    sku: 'MS-O2021-PP',
    productName: 'Microsoft Office 2021 专业增强版 – 零售密钥',
    serial: 'SN-2021-000417',
    metadata: { region: '中国大陆', seats: 1, note: 'Ünïcödé ✓ 🎮 "quoted" \\ back' },
  },
  'VK7JG-NPHTM-C97JM-9MPGT-3V66T',
  '2026-03-01T08:00:00.000Z',
);
const L1 = event('dGVzdC1saWNlbmNlLTAwMQ', 1, leafOf(L0), {
  type: 'sold',
  data: { orderId: 'ORD-20260302-88', buyer: '张三', price: 1299.5, currency: 'CNY' },
  at: '2026-03-02T10:15:30.000Z',
  salt: fixed('content salt dGVzdC1saWNlbmNlLTAwMQ 1'),
});
const A0 = issued(
  'dGVzdC1hY2NvdW50LTAwMg',
  'account',
  {
    sku: 'GENSHIN-AR60',
    productName: '原神 60级账号（天空岛）',
    serial: 'UID-812345678',
    metadata: { server: '天空岛', characters: ['雷电将军', '纳西妲'], verified: true },
  },
  'hunter2-ü',
  '2026-03-02T09:00:00.000Z',
);
const C0 = issued(
  'dGVzdC1jYXJkLTAwMDAwMw',
  'card',
  {
    sku: 'JD-ECARD-100',
    productName: '京东E卡 100元',
    serial: '2300 0000 1111 2222',
    metadata: {},
  },
  '8831 2210 9942',
  '2026-03-03T12:00:00.000Z',
);
const fillers = [1, 2, 3].map((n) =>
  issued(
    `dGVzdC1maWxsZXItMDA${n}`,
    'card',
    { sku: `STEAM-${n}00`, productName: `Steam Wallet ${n}00`, serial: `F-${n}`, metadata: { n } },
    null,
    '2026-03-02T09:30:00.000Z',
  ),
);

// Batch 1: L0 alone (root = leaf, empty proof). Batch 2: five leaves; A0 at index 3, L1 at index 4
// (the odd last node, carried up twice: its proof has a single node).
const batch1 = [L0];
const batch2 = [fillers[0]!, fillers[1]!, fillers[2]!, A0, L1];
const anchors = {
  1: { txHash: fixed('tx batch 1'), blockNumber: 7, status: 'final' as AnchorStatus },
  2: { txHash: fixed('tx batch 2'), blockNumber: 12, status: 'anchored' as AnchorStatus },
};

function anchoredBundle(batchId: 1 | 2, batch: EventSpec[], index: number): ProofBundleV1 {
  const tree = MerkleTree.fromLeaves(batch.map(leafOf));
  const e = batch[index]!;
  return {
    format: BUNDLE_FORMAT_V1,
    recordId: e.recordId,
    seq: e.seq,
    prevLeaf: e.prevLeaf,
    content: e.content,
    leaf: tree.leaf(index),
    proof: tree.proof(index),
    root: tree.root,
    batchId,
    anchor: { chainId: CHAIN_ID, contract: CONTRACT, ...anchors[batchId] },
  };
}

function pendingBundle(e: EventSpec): ProofBundleV1 {
  return {
    format: BUNDLE_FORMAT_V1,
    recordId: e.recordId,
    seq: e.seq,
    prevLeaf: e.prevLeaf,
    content: e.content,
    leaf: leafOf(e),
    proof: null,
    root: null,
    batchId: null,
    anchor: { chainId: CHAIN_ID, contract: CONTRACT, txHash: null, blockNumber: null, status: 'pending' },
  };
}

/** The intermediate values of the leaf rule, for implementers to compare step by step. */
function leafSteps(b: ProofBundleV1) {
  const key = recordKey(b.recordId);
  const hash = contentHash(b.content);
  return {
    recordKey: key,
    contentJcs: canonicalJson(b.content),
    contentHash: hash,
    abiEncoded: AbiCoder.defaultAbiCoder().encode(
      ['bytes32', 'uint32', 'bytes32', 'bytes32'],
      [key, b.seq, b.prevLeaf, hash],
    ) as Hex,
  };
}

type Json = unknown;
const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function verdictOf(bundle: Json): { valid: true } | { valid: false; failure: BundleFailure } {
  const v = verifyBundle(bundle);
  return v.valid ? { valid: true } : { valid: false, failure: v.failure };
}

function wellFormed(description: string, bundle: ProofBundleV1): Json {
  return {
    description,
    bundle,
    expected: { ...leafSteps(bundle), leaf: bundle.leaf, root: bundle.root, ...verdictOf(bundle) },
  };
}

function tampered(
  description: string,
  base: ProofBundleV1,
  failure: BundleFailure,
  edit: (b: Record<string, unknown> & ProofBundleV1) => void,
): Json {
  const bundle = clone(base) as Record<string, unknown> & ProofBundleV1;
  edit(bundle);
  const verdict = verdictOf(bundle);
  if (verdict.valid || verdict.failure !== failure) {
    throw new Error(`"${description}": verifyBundle says ${JSON.stringify(verdict)}, expected ${failure}`);
  }
  return { description, bundle, expected: { valid: false, failure } };
}

function flipLastNibble(h: Hex): Hex {
  return `${h.slice(0, -1)}${h.endsWith('0') ? '1' : '0'}` as Hex;
}

/** Tree rule vectors: leaves keccak256(utf8("leaf <i>")), every size 1..9 and 17, every proof. */
function treeVectors(): Json {
  const sizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 17];
  return {
    description:
      'Batch trees: sorted-pair keccak256 parents, odd last node carried up unchanged, one-leaf root = leaf. ' +
      'Leaves are keccak256(utf8("leaf <i>")). proofs[i] is the proof of leaves[i], bottom up.',
    cases: sizes.map((n) => {
      const leaves = Array.from({ length: n }, (_, i) => keccak256Hex(utf8(`leaf ${i}`)));
      const tree = MerkleTree.fromLeaves(leaves);
      return { leaves, root: tree.root, proofs: leaves.map((_, i) => tree.proof(i)) };
    }),
  };
}

/** Secret commitments: keccak256(secretSalt ++ utf8(trim(NFC(secret)))). */
function secretVectors(): Json {
  const salt = fixed('secret commitment salt');
  const secrets = [
    'VK7JG-NPHTM-C97JM-9MPGT-3V66T',
    '  VK7JG-NPHTM-C97JM-9MPGT-3V66T\n',
    'Cafe\u0301 密码',
    'Caf\u00e9 密码',
    '',
  ];
  return {
    description:
      'Secret commitments: keccak256(secretSalt ++ utf8(trim(NFC(secret)))). Trimming and NFC make the ' +
      'second case equal the first and the third equal the fourth. The second group uses another salt.',
    cases: [
      ...secrets.map((secret) => ({ secret, secretSalt: salt, commitment: secretCommitment(secret, salt) })),
      {
        secret: secrets[0],
        secretSalt: fixed('another secret salt'),
        commitment: secretCommitment(secrets[0]!, fixed('another secret salt')),
      },
    ],
  };
}

/** Every vector file: name -> exact file text. Pure: no I/O. */
export function buildVectors(): Record<string, string> {
  const licenceIssued = anchoredBundle(1, batch1, 0);
  const accountIssued = anchoredBundle(2, batch2, 3);
  const licenceSold = anchoredBundle(2, batch2, 4);
  const cardPending = pendingBundle(C0);

  const reordered = clone(accountIssued);
  reordered.content = Object.fromEntries(Object.entries(reordered.content).reverse());

  const files: Record<string, Json> = {
    'valid-licence-issued-single-leaf-batch.json': wellFormed(
      'Issuance (seq 0) of a licence anchored alone in batch 1: empty proof, root = leaf; status final.',
      licenceIssued,
    ),
    'valid-account-issued-batch-of-5-index-3.json': wellFormed(
      'Issuance of a game account at index 3 of the 5-leaf batch 2: proof of 3 nodes; status anchored.',
      accountIssued,
    ),
    'valid-licence-sold-seq-1-chained.json': wellFormed(
      'Event seq 1 (sold) of the licence, chained to its issuance leaf, at index 4 of batch 2: the odd last ' +
        'node is carried up twice, so its proof is a single node.',
      licenceSold,
    ),
    'valid-account-issued-content-keys-reordered.json': wellFormed(
      'The batch-of-5 account bundle with its content members written in reverse order: JCS sorts them, so ' +
        'the leaf and verdict are unchanged.',
      reordered,
    ),
    'pending-card-issued.json': wellFormed(
      'Issuance of a prepaid card not yet in a batch: the leaf checks, but proof, root, batchId, txHash and ' +
        'blockNumber are null, so verification stops with not_anchored.',
      cardPending,
    ),
    'tampered-content-changed.json': tampered(
      'Account bundle with content.productName changed after the fact.',
      accountIssued,
      'leaf_mismatch',
      (b) => {
        b.content.productName = '原神 60级账号（官服）';
      },
    ),
    'tampered-leaf-changed.json': tampered(
      'Account bundle whose leaf no longer matches its content.',
      accountIssued,
      'leaf_mismatch',
      (b) => {
        b.leaf = flipLastNibble(b.leaf);
      },
    ),
    'tampered-record-id-changed.json': tampered(
      'Account bundle presented under another recordId.',
      accountIssued,
      'leaf_mismatch',
      (b) => {
        b.recordId = 'dGVzdC1hY2NvdW50LTAwMw';
      },
    ),
    'tampered-wrong-prev-leaf.json': tampered(
      'Sold event (seq 1) chained to a leaf other than its issuance.',
      licenceSold,
      'leaf_mismatch',
      (b) => {
        b.prevLeaf = accountIssued.leaf;
      },
    ),
    'tampered-proof-element-changed.json': tampered(
      'Account bundle with the second proof node altered.',
      accountIssued,
      'proof_mismatch',
      (b) => {
        b.proof![1] = flipLastNibble(b.proof![1]!);
      },
    ),
    'tampered-proof-element-dropped.json': tampered(
      'Account bundle with the last proof node removed.',
      accountIssued,
      'proof_mismatch',
      (b) => {
        b.proof!.pop();
      },
    ),
    'tampered-root-changed.json': tampered(
      'Account bundle claiming another root.',
      accountIssued,
      'proof_mismatch',
      (b) => {
        b.root = licenceIssued.root;
      },
    ),
    'tampered-bad-format.json': tampered(
      'Account bundle with an unknown format string.',
      accountIssued,
      'malformed',
      (b) => {
        (b as Record<string, unknown>).format = 'proofmark.bundle.v2';
      },
    ),
    'tampered-missing-salt.json': tampered(
      'Account bundle whose content has no salt.',
      accountIssued,
      'malformed',
      (b) => {
        delete b.content.salt;
      },
    ),
    'tampered-seq-0-with-prev-leaf.json': tampered(
      'Issuance (seq 0) bundle with a non-zero prevLeaf.',
      licenceIssued,
      'malformed',
      (b) => {
        b.prevLeaf = accountIssued.leaf;
      },
    ),
    'tree-small.json': treeVectors(),
    'secret-commitment.json': secretVectors(),
  };
  return {
    ...Object.fromEntries(
      Object.entries(files).map(([name, value]) => [name, `${JSON.stringify(value, null, 2)}\n`]),
    ),
    // Written by their own script; listed here because this one owns (and prunes) test/vectors/.
    ...buildDirectoryVectors(),
    ...Object.fromEntries(buildStateVectors()),
  };
}

function main(): void {
  const vectors = buildVectors();
  const committed = new Set(existsSync(VECTORS_DIR) ? readdirSync(VECTORS_DIR) : []);
  if (process.argv.includes('--check')) {
    const stale = Object.entries(vectors)
      .filter(
        ([name, text]) => !committed.has(name) || readFileSync(join(VECTORS_DIR, name), 'utf8') !== text,
      )
      .map(([name]) => name);
    const extra = [...committed].filter((name) => name.endsWith('.json') && !(name in vectors));
    if (stale.length > 0 || extra.length > 0) {
      console.error(
        `test/vectors is stale (${[...stale, ...extra].join(', ')}): run scripts/make-vectors.ts`,
      );
      process.exit(1);
    }
    console.log('test/vectors matches scripts/make-vectors.ts');
    return;
  }
  mkdirSync(VECTORS_DIR, { recursive: true });
  for (const name of committed) {
    if (name.endsWith('.json') && !(name in vectors)) rmSync(join(VECTORS_DIR, name));
  }
  for (const [name, text] of Object.entries(vectors)) writeFileSync(join(VECTORS_DIR, name), text);
  console.log(`wrote ${Object.keys(vectors).length} files to test/vectors/`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
