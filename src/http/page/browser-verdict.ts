/**
 * What the browser check concludes (pure, so it is tested in Node and bundled for the browser as
 * is): from what the chain said (the latest batch with a state root, read by the browser itself)
 * and what the service answered (untrusted), whether the record's proven state agrees with the
 * verdict the service printed on the page. The proof check is the core's (checkState), not a copy.
 */
import type { DirectoryValue } from '../../core/directory/value.ts';
import type { Hex } from '../../core/hex.ts';
import { checkState, stateProofShapeError, type StateProofDocument } from '../../core/state.ts';

/** What the page claims, written into it by the server: the verdict word and the record's latest seq. */
export interface PageClaim {
  recordId: string;
  verdict: string;
  headSeq: number;
}

/** Read from the chain by the browser: the latest batch whose anchor logged a state root. */
export interface ChainState {
  chainId: number;
  block: number;
  batchId: number;
  stateRoot: Hex;
}

export type BrowserOutcome =
  /** The chain's state agrees with the verdict. `value` null: the record is provably not on chain yet. */
  | { outcome: 'verified'; value: DirectoryValue | null }
  /** The chain holds an older state of the record: its later events are not anchored yet. */
  | { outcome: 'behind'; value: DirectoryValue | null }
  /** The chain's proven state contradicts the verdict on the page. */
  | { outcome: 'disagrees'; value: DirectoryValue | null; reason: string }
  /** Nothing could be proven (stale, forged or missing proof): the service's verdict stands alone. */
  | { outcome: 'unavailable'; reason: string };

export function judgeStateProof(claim: PageClaim, chain: ChainState, answer: unknown): BrowserOutcome {
  const unavailable = (reason: string): BrowserOutcome => ({ outcome: 'unavailable', reason });
  const shape = stateProofShapeError(answer);
  if (shape !== null) return unavailable(`the service's state proof is malformed: ${shape}`);
  const doc = answer as StateProofDocument;
  if (doc.recordId !== claim.recordId) return unavailable(`the state proof is for record ${doc.recordId}`);
  if (doc.batchId !== chain.batchId) {
    return unavailable(
      `stale proof: it is as of batch ${doc.batchId}, the chain's latest state root is batch ${chain.batchId}`,
    );
  }
  if (doc.stateRoot !== chain.stateRoot) {
    return unavailable(`mismatch: the proof's root is not the one anchored for batch ${chain.batchId}`);
  }
  const checked = checkState(chain.stateRoot, claim.recordId, doc.value, doc.proof);
  if (!checked.ok) return unavailable(`mismatch: ${checked.reason}`);
  return compare(claim, checked.value);
}

/** The proven state against the page's verdict (the chain knows events, not merchants' standing). */
function compare(claim: PageClaim, value: DirectoryValue | null): BrowserOutcome {
  const disagrees = (reason: string): BrowserOutcome => ({ outcome: 'disagrees', value, reason });
  if (value !== null && value.seq > claim.headSeq) {
    return disagrees(
      `the chain holds event ${value.seq}, later than the service's latest (${claim.headSeq})`,
    );
  }
  if (value !== null && value.ended) {
    return claim.verdict === 'revoked'
      ? { outcome: 'verified', value }
      : disagrees('the chain says the item was revoked or refunded');
  }
  // The directory holds every record anchored so far (sealing backfills it), so absence contradicts
  // every verdict but pending.
  if (value === null && claim.verdict !== 'pending')
    return disagrees("the chain's directory does not hold the item");
  const latest = value !== null && value.seq === claim.headSeq;
  // Pending: the latest event is not final yet; the chain may or may not hold it already.
  if (claim.verdict === 'pending') return { outcome: 'verified', value };
  if (!latest) return { outcome: 'behind', value };
  return claim.verdict === 'revoked'
    ? disagrees('the chain says the item is still active')
    : { outcome: 'verified', value };
}
