/**
 * State proofs as the API serves them (`proofmark.state.v1`), bundle v2 (`proofmark.bundle.v2`: a
 * v1 bundle with its record's state proof under the same batch), and the freshness verdict: what
 * an anchored state root and an (untrusted) state proof say about one bundle's event. Pure; the
 * chain reads are the caller's (src/chain/freshness.ts). Specified in docs/proof-format.md §10.
 */
import { bundleShapeError, BUNDLE_FORMAT_V1, type BundleAnchor, type ProofBundleV1 } from './bundle.ts';
import { verifyDirectoryProof } from './directory/verify.ts';
import type { DirectoryValue } from './directory/value.ts';
import { isBytes32, type Hex } from './hex.ts';
import { recordKey } from './leaf.ts';
import { verifyBundle, type BundleVerdict } from './verify.ts';

export const STATE_PROOF_FORMAT = 'proofmark.state.v1';
export const BUNDLE_FORMAT_V2 = 'proofmark.bundle.v2';

/** Where a state root was anchored: the transaction that logged StateRootAnchored for its batch. */
export interface StateAnchor {
  chainId: number;
  contract: Hex;
  txHash: Hex;
  blockNumber: number;
}

/** GET /v1/records/:id/state-proof: one record's state under one batch's directory root. */
export interface StateProofDocument {
  format: typeof STATE_PROOF_FORMAT;
  recordId: string;
  recordKey: Hex;
  batchId: number;
  stateRoot: Hex;
  /** null when the batch's state root is not (yet) on chain. */
  anchor: StateAnchor | null;
  /** The record's state after the batch; null when no batch up to it held the record. */
  value: DirectoryValue | null;
  /** The directory proof (proof-format.md §9), 0x-hex. */
  proof: Hex;
}

/** The state part of a v2 bundle: the record's state under the bundle's own batch. */
export interface BundleState {
  batchId: number;
  stateRoot: Hex;
  value: DirectoryValue | null;
  proof: Hex;
}

export interface ProofBundleV2 extends Omit<ProofBundleV1, 'format'> {
  format: typeof BUNDLE_FORMAT_V2;
  state: BundleState;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const MAX_SEQ = 0xffff_ffff;

/** The first way `value` fails to be a well-formed state proof document, or null. */
export function stateProofShapeError(value: unknown): string | null {
  if (!isObject(value)) return 'state proof is not a JSON object';
  if (value.format !== STATE_PROOF_FORMAT) return `format must be "${STATE_PROOF_FORMAT}"`;
  if (typeof value.recordId !== 'string' || value.recordId === '')
    return 'recordId must be a non-empty string';
  if (!isBytes32(value.recordKey)) return 'recordKey must be 32 bytes of 0x-hex';
  const anchor = value.anchor;
  if (anchor !== null) {
    if (!isObject(anchor)) return 'anchor must be an object or null';
    if (!isUint(anchor.chainId, Number.MAX_SAFE_INTEGER) || anchor.chainId === 0)
      return 'anchor.chainId must be a positive integer';
    if (typeof anchor.contract !== 'string' || !ADDRESS.test(anchor.contract))
      return 'anchor.contract must be a 20-byte 0x address';
    if (!isBytes32(anchor.txHash)) return 'anchor.txHash must be 32 bytes of 0x-hex';
    if (!isUint(anchor.blockNumber, Number.MAX_SAFE_INTEGER)) return 'anchor.blockNumber must be an integer';
  }
  return stateShapeError(value);
}

/** The first way `value` fails to be a well-formed v2 bundle, or null. A pending event has no v2 bundle. */
export function bundleV2ShapeError(value: unknown): string | null {
  if (!isObject(value)) return 'bundle is not a JSON object';
  if (value.format !== BUNDLE_FORMAT_V2) return `format must be "${BUNDLE_FORMAT_V2}"`;
  const v1Error = bundleShapeError(asV1(value as unknown as ProofBundleV2));
  if (v1Error !== null) return v1Error;
  if ((value.anchor as BundleAnchor).status === 'pending') return 'a v2 bundle is of an anchored event';
  if (!isObject(value.state)) return 'state must be an object';
  const stateError = stateShapeError(value.state);
  if (stateError !== null) return `state: ${stateError}`;
  if (value.state.batchId !== value.batchId) return 'state.batchId must be the bundle batchId';
  return null;
}

function stateShapeError(value: Record<string, unknown>): string | null {
  if (!isUint(value.batchId, 0xffff_ffff_ffff) || value.batchId === 0)
    return 'batchId must be a positive integer';
  if (!isBytes32(value.stateRoot)) return 'stateRoot must be 32 bytes of 0x-hex';
  const v = value.value;
  if (v !== null) {
    if (!isObject(v)) return 'value must be an object or null';
    if (!isUint(v.seq, MAX_SEQ)) return 'value.seq must be an integer from 0 to 2^32-1';
    if (!isBytes32(v.leaf)) return 'value.leaf must be 32 bytes of 0x-hex';
    if (typeof v.ended !== 'boolean') return 'value.ended must be a boolean';
  }
  if (typeof value.proof !== 'string' || !/^0x(?:[0-9a-f]{2})*$/.test(value.proof))
    return 'proof must be lowercase 0x-hex bytes';
  return null;
}

/** The v1 bundle inside a v2 one: the same fields, without `state`, under the v1 format. */
export function asV1(bundle: ProofBundleV2): ProofBundleV1 {
  const { state: _state, format: _format, ...rest } = bundle;
  return { ...rest, format: BUNDLE_FORMAT_V1 };
}

export type StateCheck = { ok: true; value: DirectoryValue | null } | { ok: false; reason: string };

/**
 * Checks that `proof` shows record `recordId` in the state `claimed` under `stateRoot`: the proof
 * verifies against the root for the record's key, and what it shows is exactly `claimed`.
 */
export function checkState(
  stateRoot: Hex,
  recordId: string,
  claimed: DirectoryValue | null,
  proof: Hex,
): StateCheck {
  const verdict = verifyDirectoryProof(stateRoot, recordKey(recordId), proof);
  if (verdict.status === 'invalid') return { ok: false, reason: `state proof: ${verdict.reason}` };
  const shown = verdict.status === 'present' ? verdict.value : null;
  if (!sameValue(shown, claimed)) {
    return { ok: false, reason: 'the state proof shows another value than the one claimed beside it' };
  }
  return { ok: true, value: shown };
}

export type BundleV2Verdict =
  | { valid: true; bundle: ProofBundleV2; value: DirectoryValue }
  | Extract<BundleVerdict, { valid: false }>
  | { valid: false; failure: 'state_mismatch'; reason: string };

/**
 * Pure check of a v2 bundle: the v1 checks on its v1 part, then its state proof against its state
 * root, and that state is consistent with the event (the record's state after the event's own batch
 * is that event or a later one of the same record). Both roots must then be found on chain.
 */
export function verifyBundleV2(value: unknown): BundleV2Verdict {
  const shape = bundleV2ShapeError(value);
  if (shape !== null) return { valid: false, failure: 'malformed', reason: shape };
  const bundle = value as ProofBundleV2;
  const v1 = verifyBundle(asV1(bundle));
  if (!v1.valid) return v1;
  const { state } = bundle;
  const checked = checkState(state.stateRoot, bundle.recordId, state.value, state.proof);
  if (!checked.ok) return { valid: false, failure: 'state_mismatch', reason: checked.reason };
  const after = checked.value;
  if (after === null) {
    return { valid: false, failure: 'state_mismatch', reason: 'the state proof says the record is absent' };
  }
  if (after.seq < bundle.seq || (after.seq === bundle.seq && after.leaf !== bundle.leaf)) {
    return {
      valid: false,
      failure: 'state_mismatch',
      reason: `the state (seq ${after.seq}) cannot follow this event (seq ${bundle.seq}) in its batch`,
    };
  }
  return { valid: true, bundle, value: after };
}

/** What the chain says is the latest anchored state: batch N and the state root logged for it. */
export interface AnchoredState {
  batchId: number;
  stateRoot: Hex;
}

export type Freshness =
  /** The event is the record's latest as of batch `batchId`. */
  | { status: 'current'; batchId: number; value: DirectoryValue }
  /** A later event (seq `value.seq`) is the record's latest as of batch `batchId`. */
  | { status: 'superseded'; batchId: number; value: DirectoryValue }
  /** The answer does not prove the record's state under the anchored root: nothing is known. */
  | { status: 'unconfirmed'; reason: string };

/**
 * Whether event (`recordId`, `seq`, `leaf`) is still its record's latest state, judged only from
 * `anchored` (read from the chain) and `answer` (from the service, untrusted: any shape). An answer
 * for another batch or root, a forged proof, or none at all is 'unconfirmed', never 'current'.
 */
export function checkFreshness(
  event: { recordId: string; seq: number; leaf: Hex },
  anchored: AnchoredState,
  answer: unknown,
): Freshness {
  const unconfirmed = (reason: string): Freshness => ({ status: 'unconfirmed', reason });
  if (answer === null || answer === undefined) return unconfirmed('the service gave no state proof');
  const shape = stateProofShapeError(answer);
  if (shape !== null) return unconfirmed(`the service's state proof is malformed: ${shape}`);
  const doc = answer as StateProofDocument;
  if (doc.recordId !== event.recordId) return unconfirmed(`the state proof is for record ${doc.recordId}`);
  if (doc.batchId !== anchored.batchId) {
    return unconfirmed(
      `the state proof is as of batch ${doc.batchId}, but the chain's latest anchored state is batch ${anchored.batchId}`,
    );
  }
  if (doc.stateRoot !== anchored.stateRoot) {
    return unconfirmed(`the state proof's root is not the one anchored for batch ${anchored.batchId}`);
  }
  const checked = checkState(anchored.stateRoot, event.recordId, doc.value, doc.proof);
  if (!checked.ok) return unconfirmed(checked.reason);
  const value = checked.value;
  if (value === null)
    return unconfirmed(`the record is absent from the directory as of batch ${anchored.batchId}`);
  if (value.seq === event.seq && value.leaf === event.leaf) {
    return { status: 'current', batchId: anchored.batchId, value };
  }
  if (value.seq > event.seq) return { status: 'superseded', batchId: anchored.batchId, value };
  return unconfirmed(
    `the directory as of batch ${anchored.batchId} holds seq ${value.seq} with another leaf than this event's`,
  );
}

function sameValue(a: DirectoryValue | null, b: DirectoryValue | null): boolean {
  if (a === null || b === null) return a === b;
  return a.seq === b.seq && a.leaf === b.leaf && a.ended === b.ended;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUint(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}
