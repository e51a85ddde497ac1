/**
 * Pure verification of a proof bundle: its shape, its leaf, and that its proof reaches its root.
 * Whether that root is anchored on chain is the caller's second step (src/chain/bundle-check.ts).
 */
import { bundleShapeError, type ProofBundleV1 } from './bundle.ts';
import { eventLeaf } from './leaf.ts';
import { processProof } from './tree.ts';

/** Stable failure codes; verifiers in other languages report the same words (docs/proof-format.md). */
export type BundleFailure = 'malformed' | 'leaf_mismatch' | 'proof_mismatch' | 'not_anchored';

export type BundleVerdict =
  { valid: true; bundle: ProofBundleV1 } | { valid: false; failure: BundleFailure; reason: string };

export function verifyBundle(value: unknown): BundleVerdict {
  const shapeError = bundleShapeError(value);
  if (shapeError !== null) return fail('malformed', shapeError);
  const bundle = value as ProofBundleV1;

  let leaf: string;
  try {
    leaf = eventLeaf(bundle);
  } catch (err) {
    return fail('malformed', (err as Error).message);
  }
  if (leaf !== bundle.leaf) {
    return fail(
      'leaf_mismatch',
      `leaf does not match the content: computed ${leaf}, bundle says ${bundle.leaf}`,
    );
  }
  if (bundle.anchor.status === 'pending' || bundle.proof === null || bundle.root === null) {
    return fail('not_anchored', 'the event is pending: not yet in an anchored batch');
  }
  const reached = processProof(bundle.leaf, bundle.proof);
  if (reached !== bundle.root) {
    return fail(
      'proof_mismatch',
      `proof does not reach the root: got ${reached}, bundle says ${bundle.root}`,
    );
  }
  return { valid: true, bundle };
}

function fail(failure: BundleFailure, reason: string): BundleVerdict {
  return { valid: false, failure, reason };
}
