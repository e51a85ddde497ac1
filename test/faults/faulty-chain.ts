/**
 * An AnchorChain around a real one (a Hardhat network over JSON-RPC) that injects failures on
 * request and records what the batcher asked of it. Everything not failed goes to the real chain.
 */
import { Contract, JsonRpcProvider, toBeHex, Wallet } from 'ethers';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import {
  registryAbi,
  type AnchorChain,
  type AnchorEvent,
  type BroadcastOutcome,
  type SignedTx,
  type StateRootEvent,
  type TxReceipt,
  type TxWhereabouts,
} from '../../src/chain/registry.ts';
import type { FinalityTag } from '../../src/chain/finality.ts';
import type { Hex } from '../../src/core/index.ts';

export class InjectedFailure extends Error {
  override name = 'InjectedFailure';
}

export class FaultyChain implements AnchorChain {
  /** How many of the next calls of each kind fail. */
  readonly faults = {
    nextBatchId: 0,
    rootOf: 0,
    /** broadcast fails without sending (nothing reaches the node). */
    broadcastBeforeSend: 0,
    /** broadcast sends, then fails as if the answer was lost. */
    broadcastAfterSend: 0,
    /** blockHash answers a hash that is not the block's (as after a reorg). */
    blockHashLies: 0,
  };
  readonly calls = {
    nextBatchId: 0,
    rootOf: 0,
    signAnchor: 0,
    broadcast: 0,
    receipt: 0,
    findAnchor: 0,
    blockHash: 0,
  };
  /** Every raw transaction the batcher asked to broadcast, in order, failed or not. */
  readonly broadcasts: Hex[] = [];
  /** Times (ms) at which nextBatchId was asked, failed or not. */
  readonly nextBatchIdTimes: number[] = [];

  constructor(readonly inner: AnchorChain) {}

  get chainId(): number {
    return this.inner.chainId;
  }

  get contract(): Hex {
    return this.inner.contract;
  }

  async nextBatchId(): Promise<number> {
    this.calls.nextBatchId++;
    this.nextBatchIdTimes.push(Date.now());
    if (this.faults.nextBatchId > 0) {
      this.faults.nextBatchId--;
      throw new InjectedFailure('injected: nextBatchId RPC failure');
    }
    return this.inner.nextBatchId();
  }

  async rootOf(batchId: number, atBlock?: number): Promise<Hex> {
    this.calls.rootOf++;
    if (this.faults.rootOf > 0) {
      this.faults.rootOf--;
      throw new InjectedFailure('injected: rootOf RPC failure');
    }
    return this.inner.rootOf(batchId, atBlock);
  }

  headNumber(): Promise<number> {
    return this.inner.headNumber();
  }

  async blockHash(blockNumber: number): Promise<Hex | null> {
    this.calls.blockHash++;
    const real = await this.inner.blockHash(blockNumber);
    if (this.faults.blockHashLies > 0) {
      this.faults.blockHashLies--;
      return `0x${'ee'.repeat(32)}` as Hex;
    }
    return real;
  }

  signAnchor(
    batchId: number,
    root: Hex,
    leafCount: number,
    nonce?: number,
    stateRoot?: Hex | null,
  ): Promise<SignedTx> {
    this.calls.signAnchor++;
    return this.inner.signAnchor(batchId, root, leafCount, nonce, stateRoot);
  }

  anchorsStateRoots(): Promise<boolean> {
    return this.inner.anchorsStateRoots();
  }

  findStateRoot(batchId: number, nearBlock?: number): Promise<StateRootEvent | null> {
    return this.inner.findStateRoot(batchId, nearBlock);
  }

  baseFee(): Promise<bigint | null> {
    return this.inner.baseFee();
  }

  signReplacement(rawTx: Hex, baseFee: bigint): Promise<SignedTx> {
    return this.inner.signReplacement(rawTx, baseFee);
  }

  async broadcast(rawTx: Hex): Promise<BroadcastOutcome> {
    this.calls.broadcast++;
    this.broadcasts.push(rawTx);
    if (this.faults.broadcastBeforeSend > 0) {
      this.faults.broadcastBeforeSend--;
      throw new InjectedFailure('injected: connection refused before the transaction was sent');
    }
    const outcome = await this.inner.broadcast(rawTx);
    if (this.faults.broadcastAfterSend > 0) {
      this.faults.broadcastAfterSend--;
      throw new InjectedFailure('injected: connection reset after the transaction was sent');
    }
    return outcome;
  }

  receipt(txHash: Hex): Promise<TxReceipt | null> {
    this.calls.receipt++;
    return this.inner.receipt(txHash);
  }

  findAnchor(batchId: number, nearBlock?: number): Promise<AnchorEvent | null> {
    this.calls.findAnchor++;
    return this.inner.findAnchor(batchId, nearBlock);
  }

  anchorEvents(fromBlock: number, toBlock: number): Promise<AnchorEvent[]> {
    return this.inner.anchorEvents(fromBlock, toBlock);
  }

  anchorIn(batchId: number, fromBlock: number, toBlock: number): Promise<AnchorEvent | null> {
    return this.inner.anchorIn(batchId, fromBlock, toBlock);
  }

  transaction(txHash: Hex): Promise<TxWhereabouts> {
    return this.inner.transaction(txHash);
  }

  pendingNonce(): Promise<number> {
    return this.inner.pendingNonce();
  }

  minedNonce(): Promise<number> {
    return this.inner.minedNonce();
  }

  taggedBlock(tag: FinalityTag): Promise<number | null> {
    return this.inner.taggedBlock(tag);
  }

  balance(): Promise<bigint> {
    return this.inner.balance();
  }

  /** The wrapped chain belongs to whoever made it. */
  close(): void {}
}

/**
 * Reads the registry straight from the node, without ethers' 250 ms response cache, so a test sees
 * the chain as it is right now; and anchors out of band with the deployer key (another writer).
 */
export class ChainProbe {
  private readonly provider: JsonRpcProvider;
  private readonly registry: Contract;

  constructor(
    readonly url: string,
    readonly contract: string,
  ) {
    this.provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
    this.registry = new Contract(contract, registryAbi, new Wallet(DEV_DEPLOYER_KEY, this.provider));
  }

  async nextBatchId(): Promise<number> {
    return Number(await this.registry.getFunction('nextBatchId')());
  }

  async rootOf(batchId: number): Promise<Hex> {
    return ((await this.registry.getFunction('rootOf')(batchId)) as string).toLowerCase() as Hex;
  }

  async head(): Promise<number> {
    return this.provider.getBlockNumber();
  }

  /** The canonical chain's hash at `blockNumber`, or null past its head. */
  async blockHashOf(blockNumber: number): Promise<string | null> {
    return (await this.provider.getBlock(blockNumber))?.hash ?? null;
  }

  /** Every BatchAnchored event for `batchId`. */
  async anchorsOf(batchId: number): Promise<Array<{ root: Hex; txHash: Hex; blockNumber: number }>> {
    const logs = await this.provider.getLogs({
      address: this.contract,
      topics: [registryAbi.getEvent('BatchAnchored')!.topicHash, toBeHex(batchId, 32)],
      fromBlock: 0,
      toBlock: 'latest',
    });
    return logs.map((log) => ({
      root: log.topics[2]!.toLowerCase() as Hex,
      txHash: log.transactionHash as Hex,
      blockNumber: log.blockNumber,
    }));
  }

  /** Every BatchAnchored event on the registry, grouped by batch id. */
  async allAnchors(): Promise<Map<number, Hex[]>> {
    const logs = await this.provider.getLogs({
      address: this.contract,
      topics: [registryAbi.getEvent('BatchAnchored')!.topicHash],
      fromBlock: 0,
      toBlock: 'latest',
    });
    const out = new Map<number, Hex[]>();
    for (const log of logs) {
      const id = Number(BigInt(log.topics[1]!));
      out.set(id, [...(out.get(id) ?? []), log.topics[2]!.toLowerCase() as Hex]);
    }
    return out;
  }

  /** Anchors `root` under `batchId` from the deployer key, as another instance or operator might. */
  async anchorOutOfBand(batchId: number, root: Hex, leafCount: number): Promise<Hex> {
    const nonce = await this.provider.getTransactionCount(DEV_DEPLOYER_ADDRESS, 'pending');
    const tx = await this.registry.getFunction('anchor')(batchId, root, leafCount, { nonce });
    const receipt = await tx.wait();
    return receipt.hash as Hex;
  }

  async mine(blocks: number): Promise<void> {
    await this.provider.send('hardhat_mine', [`0x${blocks.toString(16)}`]);
  }

  close(): void {
    this.provider.destroy();
  }
}

const DEV_DEPLOYER_ADDRESS = new Wallet(DEV_DEPLOYER_KEY).address;
