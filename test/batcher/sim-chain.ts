/**
 * A small simulated EVM chain with the AnchorRegistry on it, for the anchorer's tests on the memory
 * store: blocks, a transaction pool, account nonces, the contract's rule (ids in order, once each),
 * reorgs. Everything is in memory and synchronous underneath, so a whole batch life runs in
 * milliseconds. It models what the anchorer relies on, not Ethereum: one transaction per account
 * nonce is mined, fees only matter against the base fee, and a reorg drops the orphaned blocks'
 * transactions (as Hardhat's evm_revert does).
 */
import { computeAddress, keccak256, SigningKey, toUtf8Bytes, Transaction } from 'ethers';
import {
  registryAbi,
  type AnchorChain,
  type AnchorEvent,
  type BroadcastOutcome,
  type SignedTx,
  type TxReceipt,
} from '../../src/chain/registry.ts';
import type { Hex } from '../../src/core/index.ts';

export const GWEI = 1_000_000_000n;
const CHAIN_ID = 31337;
const ZERO_ROOT = `0x${'00'.repeat(32)}` as Hex;

/** The anchorer's key, and another holder's (a second instance, or someone else anchoring). */
const OUR_KEY = new SigningKey(`0x${'11'.repeat(32)}`);
const OTHER_KEY = new SigningKey(`0x${'22'.repeat(32)}`);

interface Pooled {
  raw: Hex;
  hash: Hex;
  from: string;
  nonce: number;
  maxFee: bigint;
}

interface Block {
  hash: Hex;
  txs: Pooled[];
}

/** The chain's state after executing the canonical blocks. */
interface Executed {
  nonces: Map<string, number>;
  next: number;
  roots: Map<number, Hex>;
  events: Map<number, AnchorEvent>;
  receipts: Map<Hex, TxReceipt>;
}

export class SimChain implements AnchorChain {
  readonly chainId = CHAIN_ID;
  readonly contract = `0x${'42'.repeat(20)}` as Hex;
  /** Mine a block as soon as the pool takes a transaction (Hardhat's automine). */
  automine = true;
  /** The latest block's base fee. */
  fee = 1n * GWEI;
  /** Every call the anchorer made, by method name, in order. */
  readonly calls: string[] = [];
  /** Every transaction the pool took, in order (raw form). */
  readonly accepted: Hex[] = [];
  /** Called at the start of each method with its name: a test steps in mid-pass from here. */
  onCall: (method: string) => Promise<void> | void = () => {};
  /** While true, every method fails as an unreachable RPC does. */
  down = false;

  private readonly blocks: Block[] = [{ hash: blockHash(0, 0), txs: [] }];
  private readonly pool = new Map<Hex, Pooled>();
  /** Bumped by each reorg, so a block rebuilt at a height gets another hash. */
  private fork = 0;
  /** Anchors that revert whatever the contract expects, by transaction hash. */
  private readonly doomed = new Set<Hex>();
  private doomNext = false;

  /** Signatures made with our key, in order. */
  get signatures(): number {
    return this.calls.filter((c) => c === 'signAnchor' || c === 'signReplacement').length;
  }

  // ---- AnchorChain ----

  async nextBatchId(): Promise<number> {
    await this.enter('nextBatchId');
    return this.execute().next;
  }
  async rootOf(batchId: number): Promise<Hex> {
    await this.enter('rootOf');
    return this.execute().roots.get(batchId) ?? ZERO_ROOT;
  }
  async headNumber(): Promise<number> {
    await this.enter('headNumber');
    return this.head;
  }
  async blockHash(blockNumber: number): Promise<Hex | null> {
    await this.enter('blockHash');
    return this.blocks[blockNumber]?.hash ?? null;
  }
  async signAnchor(batchId: number, root: Hex, leafCount: number): Promise<SignedTx> {
    await this.enter('signAnchor');
    return this.sign(OUR_KEY, this.nonceFor(OUR_KEY), batchId, root, leafCount, 2n * GWEI);
  }
  async baseFee(): Promise<bigint | null> {
    await this.enter('baseFee');
    return this.fee;
  }
  async signReplacement(rawTx: Hex, baseFee: bigint): Promise<SignedTx> {
    await this.enter('signReplacement');
    const old = Transaction.from(rawTx);
    const call = registryAbi.parseTransaction({ data: old.data })!;
    const [batchId, root, leafCount] = call.args as unknown as [bigint, Hex, bigint];
    return this.sign(OUR_KEY, old.nonce, Number(batchId), root, Number(leafCount), baseFee * 2n);
  }
  async broadcast(rawTx: Hex): Promise<BroadcastOutcome> {
    await this.enter('broadcast');
    const outcome = this.submit(rawTx);
    if (outcome.kind === 'sent' && this.automine) this.mine();
    return outcome;
  }
  async receipt(txHash: Hex): Promise<TxReceipt | null> {
    await this.enter('receipt');
    return this.execute().receipts.get(txHash) ?? null;
  }
  async findAnchor(batchId: number): Promise<AnchorEvent | null> {
    await this.enter('findAnchor');
    return this.execute().events.get(batchId) ?? null;
  }
  async anchorIn(batchId: number, fromBlock: number, toBlock: number): Promise<AnchorEvent | null> {
    await this.enter('anchorIn');
    const event = this.execute().events.get(batchId);
    return event && event.blockNumber >= fromBlock && event.blockNumber <= toBlock ? event : null;
  }
  async anchorEvents(fromBlock: number, toBlock: number): Promise<AnchorEvent[]> {
    await this.enter('anchorEvents');
    return [...this.execute().events.values()].filter(
      (e) => e.blockNumber >= fromBlock && e.blockNumber <= toBlock,
    );
  }
  async pendingNonce(): Promise<number> {
    await this.enter('pendingNonce');
    return this.nonceFor(OUR_KEY);
  }
  close(): void {}

  // ---- what a test does to the chain ----

  get head(): number {
    return this.blocks.length - 1;
  }

  /** The roots the contract holds, by batch id. */
  anchoredRoots(): Map<number, Hex> {
    return this.execute().roots;
  }

  /**
   * Mines one block: every pooled transaction that can run (the next nonce of its account, and
   * fees that pay the base fee), in nonce order. Pooled transactions whose nonce is used are dropped.
   */
  mine(): void {
    const nonces = new Map(this.execute().nonces);
    const txs: Pooled[] = [];
    for (const tx of [...this.pool.values()].sort((a, b) => a.nonce - b.nonce)) {
      const next = nonces.get(tx.from) ?? 0;
      if (tx.nonce < next) this.pool.delete(tx.hash);
      if (tx.nonce !== next || tx.maxFee < this.fee) continue;
      txs.push(tx);
      nonces.set(tx.from, next + 1);
      this.pool.delete(tx.hash);
    }
    this.blocks.push({ hash: blockHash(this.blocks.length, this.fork), txs });
  }

  /** Takes the newest `depth` blocks off the chain; their transactions are gone with them. */
  reorg(depth: number): void {
    this.blocks.length = Math.max(1, this.blocks.length - depth);
    this.fork++;
  }

  /** The next anchor transaction signed with our key will revert when mined (say, out of gas). */
  doomNextSignature(): void {
    this.doomNext = true;
  }

  /** Another key anchors `batchId` with `root` now (another deployment's instance, say): mined at once. */
  anchorAsOther(batchId: number, root: Hex, leafCount = 1): SignedTx {
    const tx = this.sign(OTHER_KEY, this.nonceFor(OTHER_KEY), batchId, root, leafCount, 2n * GWEI);
    this.submit(tx.rawTx);
    this.mine();
    return tx;
  }

  // ---- inside ----

  private async enter(method: string): Promise<void> {
    this.calls.push(method);
    await this.onCall(method);
    if (this.down) throw new Error('RPC unreachable: connect ECONNREFUSED 127.0.0.1:8545');
  }

  private sign(
    key: SigningKey,
    nonce: number,
    batchId: number,
    root: Hex,
    leafCount: number,
    maxFeePerGas: bigint,
  ): SignedTx {
    const tx = Transaction.from({
      type: 2,
      chainId: CHAIN_ID,
      nonce,
      to: this.contract,
      data: registryAbi.encodeFunctionData('anchor', [batchId, root, leafCount]),
      gasLimit: 100_000n,
      maxPriorityFeePerGas: GWEI,
      maxFeePerGas,
    });
    tx.signature = key.sign(tx.unsignedHash);
    const signed = { rawTx: tx.serialized as Hex, txHash: tx.hash as Hex };
    if (key === OUR_KEY && this.doomNext) {
      this.doomNext = false;
      this.doomed.add(signed.txHash);
    }
    return signed;
  }

  /** How the pool takes a signed transaction. */
  private submit(rawTx: Hex): BroadcastOutcome {
    const tx = Transaction.from(rawTx);
    const pooled: Pooled = {
      raw: rawTx,
      hash: tx.hash as Hex,
      from: tx.from!,
      nonce: tx.nonce,
      maxFee: tx.maxFeePerGas ?? 0n,
    };
    if (this.pool.has(pooled.hash) || this.execute().receipts.has(pooled.hash)) {
      return { kind: 'already-known' };
    }
    if (pooled.nonce < (this.execute().nonces.get(pooled.from) ?? 0)) {
      return { kind: 'refused-nonce-or-fee', error: new Error('nonce too low') };
    }
    const rival = [...this.pool.values()].find((p) => p.from === pooled.from && p.nonce === pooled.nonce);
    if (rival && pooled.maxFee < rival.maxFee + rival.maxFee / 10n) {
      return { kind: 'refused-nonce-or-fee', error: new Error('replacement transaction underpriced') };
    }
    if (rival) this.pool.delete(rival.hash);
    this.pool.set(pooled.hash, pooled);
    this.accepted.push(rawTx);
    return { kind: 'sent' };
  }

  /** The next nonce of `key`'s account counting what its pool holds in a row. */
  private nonceFor(key: SigningKey): number {
    const from = computeAddress(key.publicKey);
    let nonce = this.execute().nonces.get(from) ?? 0;
    const pooled = new Set([...this.pool.values()].filter((p) => p.from === from).map((p) => p.nonce));
    while (pooled.has(nonce)) nonce++;
    return nonce;
  }

  /** Runs the canonical blocks from genesis: cheap at these sizes, and a reorg needs no undo. */
  private execute(): Executed {
    const state: Executed = {
      nonces: new Map(),
      next: 1,
      roots: new Map(),
      events: new Map(),
      receipts: new Map(),
    };
    this.blocks.forEach((block, blockNumber) => {
      for (const tx of block.txs) {
        state.nonces.set(tx.from, tx.nonce + 1);
        const call = registryAbi.parseTransaction({ data: Transaction.from(tx.raw).data })!;
        const [id, root, leafCount] = call.args as unknown as [bigint, Hex, bigint];
        const batchId = Number(id);
        const ok = batchId === state.next && !this.doomed.has(tx.hash);
        state.receipts.set(tx.hash, {
          status: ok ? 'success' : 'reverted',
          blockNumber,
          blockHash: block.hash,
        });
        if (!ok) continue;
        const lowerRoot = (root as string).toLowerCase() as Hex;
        state.roots.set(batchId, lowerRoot);
        state.events.set(batchId, {
          batchId,
          root: lowerRoot,
          leafCount: Number(leafCount),
          txHash: tx.hash,
          blockNumber,
          blockHash: block.hash,
        });
        state.next++;
      }
    });
    return state;
  }
}

function blockHash(number: number, fork: number): Hex {
  return keccak256(toUtf8Bytes(`block ${number} fork ${fork}`)) as Hex;
}
