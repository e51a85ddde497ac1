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

export const registryAbi = new Interface(artifact.abi);
export const registryBytecode = artifact.bytecode as Hex;

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
  /** What the transaction cost: gas used, and wei paid for it (gas used times the price paid). */
  gasUsed?: bigint;
  feeWei?: bigint;
}

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
  rootOf(batchId: number): Promise<Hex>;
  headNumber(): Promise<number>;
  blockHash(blockNumber: number): Promise<Hex | null>;
  /** Signs an anchor transaction without sending it, so it can be saved first. */
  signAnchor(batchId: number, root: Hex, leafCount: number): Promise<SignedTx>;
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
  /**
   * The BatchAnchored event of `batchId`, found by its indexed id, or null. Searched in windows of
   * LOG_WINDOW_BLOCKS (public RPCs cap eth_getLogs ranges): from `nearBlock` (where a bundle says it
   * was anchored) up to the head, then from the head back to block 0.
   */
  findAnchor(batchId: number, nearBlock?: number): Promise<AnchorEvent | null>;
  anchorEvents(fromBlock: number, toBlock: number): Promise<AnchorEvent[]>;
  /**
   * The anchorer account's next nonce as the node's pool sees it. It counts only transactions that
   * can run, so one below a sent transaction's nonce means a gap in front of that transaction, which
   * it would wait behind for ever.
   */
  pendingNonce(): Promise<number>;
  /** The anchorer account's balance in wei at the latest block; null without an anchorer key. */
  balance(): Promise<bigint | null>;
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
    rootOf: async (batchId) =>
      ((await registry.getFunction('rootOf')(batchId)) as string).toLowerCase() as Hex,
    headNumber: () => provider.getBlockNumber(),
    blockHash: async (n) => ((await provider.getBlock(n))?.hash as Hex | undefined) ?? null,
    async signAnchor(batchId, root, leafCount) {
      if (!wallet) throw new Error('no anchorer key configured: cannot anchor');
      try {
        const request = await wallet.populateTransaction({
          to: opts.contract,
          data: registryAbi.encodeFunctionData('anchor', [batchId, root, leafCount]),
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
        if (refusal === 'refused-nonce-or-fee') return { kind: refusal, error: err as Error };
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
        feeWei: r.fee,
      };
    },
    async findAnchor(batchId, nearBlock) {
      const topics = [topic, `0x${batchId.toString(16).padStart(64, '0')}`];
      const inRange = async (fromBlock: number, toBlock: number) => {
        const last = (await provider.getLogs({ address: opts.contract, topics, fromBlock, toBlock })).at(-1);
        return last ? toEvent(last) : null;
      };
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
    },
    async anchorEvents(fromBlock, toBlock) {
      const logs = await provider.getLogs({ address: opts.contract, topics: [topic], fromBlock, toBlock });
      return logs.map(toEvent);
    },
    async pendingNonce() {
      if (!wallet) throw new Error('no anchorer key configured: cannot anchor');
      return provider.getTransactionCount(wallet.address, 'pending');
    },
    async balance() {
      return wallet ? provider.getBalance(wallet.address) : null;
    },
    close: () => provider.destroy(),
  };
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** The widest eth_getLogs range asked for at once; common public RPC caps are 10,000 blocks or more. */
export const LOG_WINDOW_BLOCKS = 5_000;
