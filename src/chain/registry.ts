/**
 * The AnchorRegistry contract seen through ethers' JSON-RPC provider: the same code path for the
 * embedded development chain and for any real EVM chain.
 */
import { Contract, formatEther, Interface, Transaction, Wallet, type Log } from 'ethers';
import artifact from './artifacts/AnchorRegistry.json' with { type: 'json' };
import {
  classifyRefusal,
  InsufficientFundsError,
  isInsufficientFunds,
  openRpcProvider,
  type NodeRefusal,
} from './rpc-provider.ts';
import type { Hex } from '../core/index.ts';
import type { FinalityTag } from './finality.ts';

export const registryAbi = new Interface(artifact.abi);
export const registryBytecode = artifact.bytecode as Hex;
/**
 * ERC-165 id of IStateAnchoring (anchorWithState and StateRootAnchored): a registry deployed before
 * it answers false, and is then sent `anchor` only.
 */
export const STATE_ANCHORING_INTERFACE_ID = registryAbi.getFunction('anchorWithState')!.selector as Hex;

/** A batch's item-directory root as the chain holds it: the StateRootAnchored log of its anchor. */
export interface StateRootEvent {
  batchId: number;
  stateRoot: Hex;
  txHash: Hex;
  blockNumber: number;
  blockHash: Hex;
}

export interface AnchorEvent {
  batchId: number;
  root: Hex;
  leafCount: number;
  txHash: Hex;
  blockNumber: number;
  blockHash: Hex;
}

export interface TxReceipt {
  status: 'success' | 'reverted';
  blockNumber: number;
  blockHash: Hex;
  /** Gas the transaction used, and what it paid per gas (effectiveGasPrice): its cost is the product. */
  gasUsed: bigint;
  gasPrice: bigint;
}

/** Where the node has a transaction: in its pool, in a block of its canonical chain, or nowhere. */
export type TxWhereabouts = 'pending' | 'mined' | null;

/** A signed transaction, not necessarily sent. */
export interface SignedTx {
  rawTx: Hex;
  txHash: Hex;
}

/**
 * How the node took a signed transaction: it now holds it ('sent' or 'already-known'), or it refused
 * it for a reason that says something about the transaction, with the error to report.
 */
export type BroadcastOutcome =
  { kind: 'sent' | 'already-known' } | { kind: Exclude<NodeRefusal, 'already-known'>; error: Error };

/** What the batcher and the verifiers need from a chain; tests wrap it to inject failures. */
export interface AnchorChain {
  readonly chainId: number;
  readonly contract: Hex;
  nextBatchId(): Promise<number>;
  /** The root anchored under `batchId` (zero if none) at the latest block, or as of block `atBlock`. */
  rootOf(batchId: number, atBlock?: number): Promise<Hex>;
  headNumber(): Promise<number>;
  blockHash(blockNumber: number): Promise<Hex | null>;
  /**
   * Signs an anchor transaction without sending it, so it can be saved first: at `nonce`, or the
   * account's pending nonce when none is given. Its gas limit is estimated for the id the contract
   * expects now (the same cost for every id taken in order), with a margin, so a batch whose turn has
   * not yet come on chain (pipelined behind anchors still in flight) can be signed too.
   */
  signAnchor(
    batchId: number,
    root: Hex,
    leafCount: number,
    nonce?: number,
    stateRoot?: Hex | null,
  ): Promise<SignedTx>;
  /**
   * Whether the registry takes anchorWithState (ERC-165; asked once). When it does not, signAnchor
   * must be given no state root.
   */
  anchorsStateRoots(): Promise<boolean>;
  /**
   * The StateRootAnchored log of `batchId`, searched as findAnchor searches, or null (a batch
   * anchored with `anchor`, or on a registry without anchorWithState, has none).
   */
  findStateRoot(batchId: number, nearBlock?: number): Promise<StateRootEvent | null>;
  /** The latest block's base fee, or null on a chain without one (before London). */
  baseFee(): Promise<bigint | null>;
  /**
   * The same transaction as `rawTx` at the same nonce, with fees raised enough to replace it in the
   * pool and to be mined at `baseFee`. Not sent.
   */
  signReplacement(rawTx: Hex, baseFee: bigint): Promise<SignedTx>;
  /**
   * Sends a signed transaction and says how the node took it (a refusal with insufficient funds
   * carries an InsufficientFundsError naming the account, its balance and the cost). Rejects when
   * no answer came or the answer is not one it recognises: then nothing is known about the
   * transaction.
   */
  broadcast(rawTx: Hex): Promise<BroadcastOutcome>;
  receipt(txHash: Hex): Promise<TxReceipt | null>;
  /** Where the node has the transaction `txHash` (eth_getTransactionByHash). */
  transaction(txHash: Hex): Promise<TxWhereabouts>;
  /**
   * The BatchAnchored event of `batchId`, found by its indexed id, or null. Searched in windows of
   * LOG_WINDOW_BLOCKS (public RPCs cap eth_getLogs ranges): from `nearBlock` (where a bundle says it
   * was anchored) up to the head, then from the head back to block 0.
   */
  findAnchor(batchId: number, nearBlock?: number): Promise<AnchorEvent | null>;
  /**
   * The BatchAnchored event of `batchId` within blocks fromBlock..toBlock, found by its indexed id in
   * one eth_getLogs, or null.
   */
  anchorIn(batchId: number, fromBlock: number, toBlock: number): Promise<AnchorEvent | null>;
  anchorEvents(fromBlock: number, toBlock: number): Promise<AnchorEvent[]>;
  /**
   * The anchorer account's next nonce as the node's pool sees it. It counts only transactions that
   * can run, so one below a sent transaction's nonce means a gap in front of that transaction, which
   * it would wait behind for ever.
   */
  pendingNonce(): Promise<number>;
  /** The anchorer account's nonce at the latest block: every lower nonce is used by a mined transaction. */
  minedNonce(): Promise<number>;
  /**
   * The number of the node's block with this tag (eth_getBlockByNumber("safe"|"finalized")), or null
   * when the node has none yet. Rejects when the node does not know the tag.
   */
  taggedBlock(tag: FinalityTag): Promise<number | null>;
  /** The anchorer account's balance in wei. */
  balance(): Promise<bigint>;
  close(): void;
}

export async function connectRegistry(opts: {
  rpcUrl: string;
  contract: string;
  anchorerKey?: string | undefined;
  pollMs?: number;
  /** Per JSON-RPC request; ethers' own default is 5 minutes, a long stall for a hung endpoint. */
  rpcTimeoutMs?: number;
}): Promise<AnchorChain> {
  const provider = openRpcProvider(opts.rpcUrl, { pollMs: opts.pollMs, timeoutMs: opts.rpcTimeoutMs });
  const chainId = Number((await provider.getNetwork()).chainId);
  const code = await provider.getCode(opts.contract);
  if (code === '0x') {
    provider.destroy();
    throw new Error(`no contract at ${opts.contract} on chain ${chainId}`);
  }
  const wallet = opts.anchorerKey ? new Wallet(opts.anchorerKey, provider) : undefined;
  const registry = new Contract(opts.contract, registryAbi, provider);
  const contract = opts.contract.toLowerCase() as Hex;

  const toEvent = (log: Log): AnchorEvent => {
    const parsed = registryAbi.parseLog(log)!;
    return {
      batchId: Number(parsed.args[0]),
      root: (parsed.args[1] as string).toLowerCase() as Hex,
      leafCount: Number(parsed.args[2]),
      txHash: log.transactionHash as Hex,
      blockNumber: log.blockNumber,
      blockHash: log.blockHash as Hex,
    };
  };
  const topic = registryAbi.getEvent('BatchAnchored')!.topicHash;
  const stateTopic = registryAbi.getEvent('StateRootAnchored')!.topicHash;
  let stateAnchoring: Promise<boolean> | undefined;

  /** The newest log with `topic0` and batch id `batchId` (topic 1) in blocks from..to. */
  async function logIn(topic0: string, batchId: number, fromBlock: number, toBlock: number) {
    const topics = [topic0, `0x${batchId.toString(16).padStart(64, '0')}`];
    return (await provider.getLogs({ address: opts.contract, topics, fromBlock, toBlock })).at(-1);
  }

  /** findAnchor's search: from `nearBlock` up to the head, then from the head back to block 0. */
  async function search<T>(
    nearBlock: number | undefined,
    inRange: (fromBlock: number, toBlock: number) => Promise<T | null>,
  ): Promise<T | null> {
    const head = await provider.getBlockNumber();
    const near = nearBlock !== undefined && nearBlock <= head ? nearBlock : null;
    if (near !== null) {
      for (let from = near; from <= head; from += LOG_WINDOW_BLOCKS) {
        const found = await inRange(from, Math.min(head, from + LOG_WINDOW_BLOCKS - 1));
        if (found) return found;
      }
    }
    for (let to = near === null ? head : near - 1; to >= 0; to -= LOG_WINDOW_BLOCKS) {
      const found = await inRange(Math.max(0, to - LOG_WINDOW_BLOCKS + 1), to);
      if (found) return found;
    }
    return null;
  }

  async function anchorIn(batchId: number, fromBlock: number, toBlock: number): Promise<AnchorEvent | null> {
    const last = await logIn(topic, batchId, fromBlock, toBlock);
    return last ? toEvent(last) : null;
  }

  async function stateRootIn(batchId: number, fromBlock: number, toBlock: number) {
    const log = await logIn(stateTopic, batchId, fromBlock, toBlock);
    if (!log) return null;
    const parsed = registryAbi.parseLog(log)!;
    return {
      batchId: Number(parsed.args[0]),
      stateRoot: (parsed.args[1] as string).toLowerCase() as Hex,
      txHash: log.transactionHash as Hex,
      blockNumber: log.blockNumber,
      blockHash: log.blockHash as Hex,
    };
  }

  /** What an operator needs to act on: which account, for which batch, what it holds and needs. */
  const fundsError = async (
    account: string,
    batchId: number | string,
    upfront: bigint | null,
    cause: unknown,
  ): Promise<InsufficientFundsError> => {
    const balance = await provider.getBalance(account).then(
      (wei) => `${formatEther(wei)} ETH`,
      () => 'unknown',
    );
    const needs = upfront === null ? '' : `, the transaction may cost up to ${formatEther(upfront)} ETH`;
    return new InsufficientFundsError(
      `anchorer ${account} has insufficient funds to anchor batch ${batchId}: balance ${balance}${needs}; fund the account`,
      { cause },
    );
  };

  return {
    chainId,
    contract,
    nextBatchId: async () => Number(await registry.getFunction('nextBatchId')()),
    rootOf: async (batchId, atBlock) =>
      (
        (await registry.getFunction('rootOf')(
          batchId,
          ...(atBlock === undefined ? [] : [{ blockTag: atBlock }]),
        )) as string
      ).toLowerCase() as Hex,
    headNumber: () => provider.getBlockNumber(),
    blockHash: async (n) => ((await provider.getBlock(n))?.hash as Hex | undefined) ?? null,
    async signAnchor(batchId, root, leafCount, nonce, stateRoot) {
      if (!wallet) throw new Error('no anchorer key configured: cannot anchor');
      const call = (id: number) => ({
        from: wallet.address,
        to: opts.contract,
        data: stateRoot
          ? registryAbi.encodeFunctionData('anchorWithState', [id, root, leafCount, stateRoot])
          : registryAbi.encodeFunctionData('anchor', [id, root, leafCount]),
      });
      try {
        // Estimated at the latest block, where the contract expects `expected`: nodes estimate at
        // their pending block by default, whose next id depends on what else waits in the pool.
        const expected = Number(await registry.getFunction('nextBatchId')());
        const estimate = BigInt(await provider.send('eth_estimateGas', [call(expected), 'latest']));
        const request = await wallet.populateTransaction({
          ...call(batchId),
          gasLimit: estimate + estimate / ANCHOR_GAS_MARGIN,
          ...(nonce !== undefined && { nonce }),
        });
        const rawTx = (await wallet.signTransaction(request)) as Hex;
        return { rawTx, txHash: Transaction.from(rawTx).hash as Hex };
      } catch (err) {
        if (isInsufficientFunds(err)) throw await fundsError(wallet.address, batchId, null, err);
        throw err;
      }
    },
    baseFee: async () => (await provider.getBlock('latest'))?.baseFeePerGas ?? null,
    async signReplacement(rawTx, baseFee) {
      if (!wallet) throw new Error('no anchorer key configured: cannot anchor');
      const old = Transaction.from(rawTx);
      // Pools replace a transaction only for at least 10% more on both fees.
      const bump = (wei: bigint) => wei + wei / 8n + 1n;
      const fees = await provider.getFeeData();
      const tip = max(fees.maxPriorityFeePerGas ?? 0n, bump(old.maxPriorityFeePerGas ?? 0n));
      const replacement = (await wallet.signTransaction({
        type: 2,
        chainId: old.chainId,
        to: old.to,
        data: old.data,
        nonce: old.nonce,
        gasLimit: old.gasLimit,
        maxPriorityFeePerGas: tip,
        maxFeePerGas: max(baseFee * 2n + tip, bump(old.maxFeePerGas ?? 0n)),
      })) as Hex;
      return { rawTx: replacement, txHash: Transaction.from(replacement).hash as Hex };
    },
    async broadcast(rawTx) {
      try {
        await provider.broadcastTransaction(rawTx);
        return { kind: 'sent' };
      } catch (err) {
        const refusal = classifyRefusal(err);
        if (refusal === null) throw err;
        if (refusal === 'already-known') return { kind: refusal };
        if (refusal !== 'insufficient-funds') return { kind: refusal, error: err as Error };
        const tx = Transaction.from(rawTx);
        const batchId = registryAbi.parseTransaction({ data: tx.data })?.args[0] ?? '?';
        const upfront = tx.gasLimit * (tx.maxFeePerGas ?? tx.gasPrice ?? 0n) + tx.value;
        return { kind: refusal, error: await fundsError(tx.from!, String(batchId), upfront, err) };
      }
    },
    async receipt(txHash) {
      const r = await provider.getTransactionReceipt(txHash);
      if (!r) return null;
      return {
        status: r.status === 1 ? 'success' : 'reverted',
        blockNumber: r.blockNumber,
        blockHash: r.blockHash as Hex,
        gasUsed: r.gasUsed,
        gasPrice: r.gasPrice,
      };
    },
    async transaction(txHash) {
      const tx = await provider.getTransaction(txHash);
      if (!tx) return null;
      return tx.blockNumber === null ? 'pending' : 'mined';
    },
    findAnchor: (batchId, nearBlock) => search(nearBlock, (from, to) => anchorIn(batchId, from, to)),
    anchorsStateRoots() {
      // Asked once; a registry without ERC-165 at all (none of ours) counts as without it.
      stateAnchoring ??= (
        registry.getFunction('supportsInterface')(STATE_ANCHORING_INTERFACE_ID) as Promise<boolean>
      ).catch((err: unknown) => {
        stateAnchoring = undefined;
        throw err;
      });
      return stateAnchoring;
    },
    findStateRoot: (batchId, nearBlock) => search(nearBlock, (from, to) => stateRootIn(batchId, from, to)),
    anchorIn,
    async anchorEvents(fromBlock, toBlock) {
      const logs = await provider.getLogs({ address: opts.contract, topics: [topic], fromBlock, toBlock });
      return logs.map(toEvent);
    },
    async pendingNonce() {
      if (!wallet) throw new Error('no anchorer key configured: cannot anchor');
      return provider.getTransactionCount(wallet.address, 'pending');
    },
    async minedNonce() {
      if (!wallet) throw new Error('no anchorer key configured: cannot anchor');
      return provider.getTransactionCount(wallet.address, 'latest');
    },
    taggedBlock: async (tag) => (await provider.getBlock(tag))?.number ?? null,
    async balance() {
      if (!wallet) throw new Error('no anchorer key configured: cannot anchor');
      return provider.getBalance(wallet.address);
    },
    close: () => provider.destroy(),
  };
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/**
 * The gas limit is the estimate plus 1/4 of it: the estimate is for the id the contract expects now,
 * and another id's calldata may cost a few hundred gas more (unused gas is not paid for).
 */
const ANCHOR_GAS_MARGIN = 4n;

/** The widest eth_getLogs range asked for at once; common public RPC caps are 10,000 blocks or more. */
export const LOG_WINDOW_BLOCKS = 5_000;
