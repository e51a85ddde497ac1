/**
 * Batch rows and signed transactions for the anchorer's unit tests (decide.test.ts,
 * anchorer-shell.test.ts): made up, but shaped as the stores and the chain client make them.
 */
import { SigningKey, Transaction } from 'ethers';
import type { Hex } from '../../src/core/index.ts';
import type { BatchRow, BatchStatus } from '../../src/storage/rows.ts';

export const ROOT = `0x${'aa'.repeat(32)}` as Hex;
export const OTHER_ROOT = `0x${'bb'.repeat(32)}` as Hex;
export const BLOCK_HASH = `0x${'c1'.repeat(32)}` as Hex;
export const REORGED_HASH = `0x${'c2'.repeat(32)}` as Hex;
/** A transaction hash that is not ours: someone else's anchor. */
export const THEIRS = `0x${'dd'.repeat(32)}` as Hex;
export const GWEI = 1_000_000_000n;

const KEY = new SigningKey(`0x${'11'.repeat(32)}`);

/** A signed transaction (EIP-1559 with a max fee, or legacy with a gas price) at `nonce`. */
export function signedTx(
  nonce: number,
  fees: { maxFeePerGas: bigint } | { gasPrice: bigint } = { maxFeePerGas: 100n * GWEI },
): { rawTx: Hex; txHash: Hex } {
  const tx = Transaction.from({
    ...('maxFeePerGas' in fees ? { type: 2, maxPriorityFeePerGas: GWEI } : { type: 0 }),
    ...fees,
    chainId: 31337,
    nonce,
    to: `0x${'42'.repeat(20)}`,
    data: '0x',
    gasLimit: 100_000n,
  });
  tx.signature = KEY.sign(tx.unsignedHash);
  return { rawTx: tx.serialized as Hex, txHash: tx.hash as Hex };
}

/** Ours, saved with the batch: nonce 7, offering up to 100 gwei. */
export const SAVED = signedTx(7);

/** A batch row's saved transaction fields for a transaction of ours at `nonce`. */
export function signedRow(nonce: number): Pick<BatchRow, 'raw_tx' | 'tx_hash'> {
  const tx = signedTx(nonce);
  return { raw_tx: tx.rawTx, tx_hash: tx.txHash };
}

/**
 * Batch 5 in `status`, with what that status implies: a saved transaction once submitted, block 100
 * once anchored, the chain's root once final. `fields` override.
 */
export function batchRow(status: BatchStatus, fields: Partial<BatchRow> = {}): BatchRow {
  const onChain = status === 'anchored' || status === 'final';
  const sent = status !== 'sealed';
  return {
    id: 5,
    root: ROOT,
    leaf_count: 3,
    status,
    sealed_at: '2025-01-01T00:00:00.000Z',
    raw_tx: sent ? SAVED.rawTx : null,
    tx_hash: sent ? SAVED.txHash : null,
    block_number: onChain ? 100 : null,
    block_hash: onChain ? BLOCK_HASH : null,
    anchored_at: onChain ? '2025-01-01T00:00:10.000Z' : null,
    final_at: status === 'final' ? '2025-01-01T00:00:40.000Z' : null,
    chain_root: status === 'final' ? ROOT : null,
    state_root: null,
    ...fields,
  };
}
