/**
 * A chain node in a process of its own, which outlives the service under test as a real chain does,
 * mining on a clock (a block every so often, as a real network) or on demand. Two implementations:
 * `hardhat node` (test/helpers/hardhat-node.ts) and Foundry's anvil (test/helpers/anvil-node.ts);
 * the fault tests run on both through this interface.
 */
import type { JsonRpcProvider } from 'ethers';

export type NodeKind = 'hardhat' | 'anvil';

export interface ChainNode {
  readonly kind: NodeKind;
  readonly url: string;
  /** Reads straight from the node (no response cache). */
  readonly provider: JsonRpcProvider;
  /** A fresh AnchorRegistry (anchorer: the deployer, account #0 on both nodes): its own batch-id space. */
  deploy(): Promise<string>;
  /** Mines a block every `ms` (whole seconds on anvil), or on demand only with 0. */
  mineEvery(ms: number): Promise<void>;
  /** Mines `blocks` blocks now. */
  mine(blocks?: number): Promise<void>;
  /** Removes a pending transaction from the node's pool, as a node that evicts it would. */
  dropTransaction(txHash: string): Promise<void>;
  /** The next block's base fee, in wei. */
  setNextBaseFee(wei: bigint): Promise<void>;
  /** An account's balance, in wei. */
  setBalance(address: string, wei: bigint): Promise<void>;
  /** evm_snapshot: the chain as it is now, to come back to with revert (a reorg, on both nodes). */
  snapshot(): Promise<string>;
  /** evm_revert: back to a snapshot; the blocks after it are gone. */
  revert(snapshot: string): Promise<void>;
  stop(): Promise<void>;
}
