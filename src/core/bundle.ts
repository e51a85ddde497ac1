/**
 * Proof bundle format `proofmark.bundle.v1`: everything a stranger needs to check one lifecycle
 * event with nothing but an RPC endpoint. Specified in docs/proof-format.md; old bundles in
 * test/vectors are reloaded by every test run, so the format cannot drift unnoticed.
 */
import { isBytes32, type Hex } from './hex.ts';

export const BUNDLE_FORMAT_V1 = 'proofmark.bundle.v1';

/** Where a bundle's batch stands: not yet on chain, on chain, or on chain and final. */
export const ANCHOR_STATUSES = ['pending', 'anchored', 'final'] as const;
export type AnchorStatus = (typeof ANCHOR_STATUSES)[number];

export interface BundleAnchor {
  chainId: number;
  contract: Hex;
  /** null while pending. */
  txHash: Hex | null;
  blockNumber: number | null;
  status: AnchorStatus;
}

export interface ProofBundleV1 {
  format: typeof BUNDLE_FORMAT_V1;
  recordId: string;
  seq: number;
  prevLeaf: Hex;
  content: Record<string, unknown>;
  leaf: Hex;
  /** null while pending, as are root and batchId. */
  proof: Hex[] | null;
  root: Hex | null;
  batchId: number | null;
  anchor: BundleAnchor;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** Returns the first way `value` fails to be a well-formed v1 bundle, or null when it is one. */
export function bundleShapeError(value: unknown): string | null {
  if (!isObject(value)) return 'bundle is not a JSON object';
  if (value.format !== BUNDLE_FORMAT_V1) return `format must be "${BUNDLE_FORMAT_V1}"`;
  if (typeof value.recordId !== 'string' || value.recordId === '')
    return 'recordId must be a non-empty string';
  if (!isUint(value.seq, 0xffff_ffff)) return 'seq must be an integer from 0 to 2^32-1';
  if (!isBytes32(value.prevLeaf)) return 'prevLeaf must be 32 bytes of 0x-hex';
  if (!isObject(value.content)) return 'content must be a JSON object';
  if (!isBytes32(value.leaf)) return 'leaf must be 32 bytes of 0x-hex';
  const anchor = value.anchor;
  if (!isObject(anchor)) return 'anchor must be an object';
  if (!isUint(anchor.chainId, Number.MAX_SAFE_INTEGER) || anchor.chainId === 0) {
    return 'anchor.chainId must be a positive integer';
  }
  if (typeof anchor.contract !== 'string' || !ADDRESS.test(anchor.contract)) {
    return 'anchor.contract must be a 20-byte 0x address';
  }
  if (typeof anchor.status !== 'string' || !(ANCHOR_STATUSES as readonly string[]).includes(anchor.status)) {
    return 'anchor.status must be pending, anchored or final';
  }
  if (anchor.status === 'pending') {
    if (value.proof !== null || value.root !== null || value.batchId !== null) {
      return 'a pending bundle has null proof, root and batchId';
    }
    if (anchor.txHash !== null || anchor.blockNumber !== null) {
      return 'a pending bundle has null anchor.txHash and anchor.blockNumber';
    }
    return null;
  }
  if (!Array.isArray(value.proof) || !value.proof.every(isBytes32)) {
    return 'proof must be an array of 32-byte 0x-hex nodes';
  }
  if (!isBytes32(value.root)) return 'root must be 32 bytes of 0x-hex';
  if (!isUint(value.batchId, 0xffff_ffff_ffff) || value.batchId === 0)
    return 'batchId must be a positive integer';
  if (!isBytes32(anchor.txHash)) return 'anchor.txHash must be 32 bytes of 0x-hex';
  if (!isUint(anchor.blockNumber, Number.MAX_SAFE_INTEGER)) return 'anchor.blockNumber must be an integer';
  return null;
}

export function isProofBundleV1(value: unknown): value is ProofBundleV1 {
  return bundleShapeError(value) === null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUint(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}
