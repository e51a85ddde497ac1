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
  const erased = erasedReason(bundle.content);
  if (erased !== null) return fail('malformed', erased);

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

/**
 * A tombstone in place of the content (no salt, an `erased` member: the service's erasure) has no
 * leaf, like any content without a salt (§6 step 2: malformed); the reason says what happened.
 */
function erasedReason(content: Record<string, unknown>): string | null {
  const erased = content.erased;
  if ('salt' in content || typeof erased !== 'object' || erased === null) return null;
  const { by, at } = erased as { by?: unknown; at?: unknown };
  return (
    `the content of this event was erased by ${JSON.stringify(by)} at ${JSON.stringify(at)}: its leaf ` +
    'is still anchored, but what it committed to is no longer published, so it cannot be checked'
  );
}

function fail(failure: BundleFailure, reason: string): BundleVerdict {
  return { valid: false, failure, reason };
}
