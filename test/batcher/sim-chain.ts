/**
 * A small simulated EVM node with the AnchorRegistry on its chain, for the anchorer's tests on the
 * memory store: blocks with their base fees, a transaction pool, account nonces and our account's
 * balance, the node's safe and finalized blocks, and the contract's rule (ids in order, once each).
 * Everything is in memory and synchronous underneath, so a whole batch life runs in milliseconds.
 *
 * Where the anchorer reads, it answers as real nodes do (sim-chain.test.ts pins each answer):
 * - a transaction by hash is 'pending' while the pool holds it (runnable or behind a gap), 'mined'
 *   once a canonical block holds it, and unknown once dropped, replaced, or orphaned by a reorg;
 * - the account's nonce at `latest` counts mined transactions; at `pending` it also counts the
 *   pool's run of consecutive nonces above that (one behind a gap waits in the pool, uncounted);
 * - a send is answered 'already-known' for a transaction the pool holds; 'nonce-used' for a nonce a
 *   mined transaction took, the transaction itself once mined included (geth, Hardhat and anvil
 *   answer "nonce too low" then: only the pool knows duplicates); 'fee-too-low' for a replacement
 *   that does not outbid the pooled transaction at its nonce by 10 % on both fees, and, on a node
 *   that refuses them (anvil), for a max fee below the base fee; 'insufficient-funds' when our
 *   account cannot pay the gas limit at the max fee;
 * - the safe and finalized blocks trail the head by `safeLag` and `finalizedLag` blocks (anvil's
 *   --slots-in-an-epoch; Hardhat's are its head).
 *
 * It models what the anchorer relies on, not Ethereum: blocks have no gas limit, gas is a fixed
 * figure per kind of outcome, and a reorg either drops the orphaned blocks' transactions (Hardhat's
 * evm_revert, anvil_reorg) or puts them back in the pool (geth).
 *
 * It also watches the anchorer from the node's side and notes in `breaches` what it must never do:
 * sign a batch again, or send a second anchor for it, while the node holds one of ours for it that
 * it can mine (in the run of nonces from the mined ones: not behind a gap), or send an anchor for an
 * id the contract already holds. One held behind a gap is signed again by design: the new one fills
 * the gap, and the stale one, mined after it, reverts (decide.ts, docs/guarantees.md section 5).
 */
import { computeAddress, formatEther, keccak256, SigningKey, toUtf8Bytes, Transaction } from 'ethers';
import {
  registryAbi,
  type AnchorChain,
  type AnchorEvent,
  type BroadcastOutcome,
  type SignedTx,
  type TxReceipt,
  type TxWhereabouts,
} from '../../src/chain/registry.ts';
import type { FinalityTag } from '../../src/chain/finality.ts';
import { InsufficientFundsError } from '../../src/chain/rpc-provider.ts';
import type { Hex } from '../../src/core/index.ts';

export const GWEI = 1_000_000_000n;
const ETHER = 10n ** 18n;
const CHAIN_ID = 31337;
const ZERO_ROOT = `0x${'00'.repeat(32)}` as Hex;

/** The anchorer's key, and another holder's (a second instance, or someone else anchoring). */
const OUR_KEY = new SigningKey(`0x${'11'.repeat(32)}`);
const OTHER_KEY = new SigningKey(`0x${'22'.repeat(32)}`);
const OURS = computeAddress(OUR_KEY.publicKey);
const THEIRS = computeAddress(OTHER_KEY.publicKey);

/** What the anchorer's signer offers as a tip (ethers' default priority fee). */
const TIP = GWEI;
const GAS_LIMIT = 100_000n;
/** Gas a mined transaction uses: an anchor taken, an anchor reverted, a plain transfer. */
const GAS = { anchored: 55_000n, reverted: 30_000n, transfer: 21_000n } as const;

interface Anchor {
  batchId: number;
  root: Hex;
  leafCount: number;
}

interface Pooled {
  raw: Hex;
  hash: Hex;
  from: string;
  nonce: number;
  maxFee: bigint;
  tip: bigint;
  /** The anchor call it makes, or null for anything else (a plain transfer). */
  anchor: Anchor | null;
}

interface Block {
  hash: Hex;
  baseFee: bigint;
  txs: Pooled[];
}

/** The chain's state after executing the canonical blocks. */
interface Executed {
  nonces: Map<string, number>;
  next: number;
  roots: Map<number, Hex>;
  events: Map<number, AnchorEvent>;
  receipts: Map<Hex, TxReceipt>;
  /** What our account has paid for its mined transactions. */
  spent: bigint;
}

export class SimChain implements AnchorChain {
  readonly chainId = CHAIN_ID;
  readonly contract = `0x${'42'.repeat(20)}` as Hex;
  /** Mine a block as soon as the pool takes a transaction (Hardhat's automine). */
  automine = true;
  /** The base fee of the latest block and of the blocks mined from now on. */
  fee = 1n * GWEI;
  /** Refuse a transaction whose max fee is below the base fee, as anvil does (geth pools it). */
  refusesUnderBaseFee = false;
  /** How far the node's safe and finalized blocks trail its head, in blocks. */
  safeLag = 0;
  finalizedLag = 0;
  /** Our account's balance at genesis. */
  funds = 10n * ETHER;
  /** Every call the anchorer made, by method name, in order. */
  readonly calls: string[] = [];
  /** Every transaction the pool took, in order (raw form). */
  readonly accepted: Hex[] = [];
  /** What the anchorer must never do, in words, as the node saw it happen (see above). */
  readonly breaches: string[] = [];
  /** Called at the start of each method with its name: a test steps in mid-pass from here. */
  onCall: (method: string) => Promise<void> | void = () => {};
  /** While true, every method fails as an unreachable RPC does. */
  down = false;

  private readonly blocks: Block[] = [{ hash: blockHash(0, 0), baseFee: this.fee, txs: [] }];
  private readonly pool = new Map<Hex, Pooled>();
  /** Bumped by each reorg, so a block rebuilt at a height gets another hash. */
  private fork = 0;
  /** Anchors that revert whatever the contract expects, by transaction hash. */
  private readonly doomed = new Set<Hex>();
  private doomNext = false;
  /** The canonical blocks executed, until they change. */
  private state: Executed | null = null;

  /** How many anchors our key has signed, replacements included. */
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
  /** Signs as ethers' wallet does: at the pending nonce unless given, for twice the base fee plus the tip. */
  async signAnchor(batchId: number, root: Hex, leafCount: number, nonce?: number): Promise<SignedTx> {
    await this.enter('signAnchor');
    const held = this.runnable().find((p) => p.anchor?.batchId === batchId);
    if (held) {
      this.breaches.push(
        `signed batch ${batchId} again while the node holds its anchor at nonce ${held.nonce}`,
      );
    }
    const fees = { tip: TIP, maxFee: 2n * this.fee + TIP };
    return this.sign(OUR_KEY, nonce ?? this.pendingNonceOf(OURS), anchorCall(batchId, root, leafCount), fees);
  }
  async baseFee(): Promise<bigint | null> {
    await this.enter('baseFee');
    return this.fee;
  }
  /** As the chain client replaces: both fees up by an eighth at least, and the max fee paying `baseFee`. */
  async signReplacement(rawTx: Hex, baseFee: bigint): Promise<SignedTx> {
    await this.enter('signReplacement');
    const old = Transaction.from(rawTx);
    const bump = (wei: bigint) => wei + wei / 8n + 1n;
    const tip = max(TIP, bump(old.maxPriorityFeePerGas ?? 0n));
    return this.sign(OUR_KEY, old.nonce, old.data as Hex, {
      tip,
      maxFee: max(baseFee * 2n + tip, bump(old.maxFeePerGas ?? 0n)),
    });
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
  async transaction(txHash: Hex): Promise<TxWhereabouts> {
    await this.enter('transaction');
    if (this.execute().receipts.has(txHash)) return 'mined';
    return this.pool.has(txHash) ? 'pending' : null;
  }
  /**
   * Whether the simulated registry takes anchorWithState. Off: it models one deployed before it,
   * whose batches anchor without a state root (the anchor calls it makes are `anchor` either way).
   */
  stateAnchoring = false;
  async anchorsStateRoots(): Promise<boolean> {
    return this.stateAnchoring;
  }
  async findStateRoot(): Promise<null> {
    return null;
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
    return this.pendingNonceOf(OURS);
  }
  async minedNonce(): Promise<number> {
    await this.enter('minedNonce');
    return this.minedNonceOf(OURS);
  }
  async taggedBlock(tag: FinalityTag): Promise<number | null> {
    await this.enter('taggedBlock');
    return this.tagged(tag);
  }
  async balance(): Promise<bigint> {
    await this.enter('balance');
    return this.balanceNow();
  }
  close(): void {}

  // ---- what a test reads and does to the chain ----

  get head(): number {
    return this.blocks.length - 1;
  }

  /** The number of the node's block with `tag`: its lag below the head, genesis at least. */
  tagged(tag: FinalityTag): number {
    return Math.max(0, this.head - (tag === 'safe' ? this.safeLag : this.finalizedLag));
  }

  /** The roots the contract holds, by batch id. */
  anchoredRoots(): Map<number, Hex> {
    return this.execute().roots;
  }

  /** The contract's BatchAnchored events, by batch id. */
  anchorEventsNow(): Map<number, AnchorEvent> {
    return this.execute().events;
  }

  /** The hashes of the transactions the pool holds. */
  pooled(): Hex[] {
    return [...this.pool.keys()];
  }

  /**
   * Mines one block: every pooled transaction that can run (the next nonce of its account, and a
   * max fee that pays the base fee), in nonce order, so one account's run of nonces goes into one
   * block. Pooled transactions whose nonce is used are dropped.
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
    this.addBlock(txs);
  }

  /**
   * Takes the newest `depth` blocks off the chain. Their transactions are gone with them, as after
   * Hardhat's evm_revert or anvil_reorg, or back in the pool to be mined again, as geth does.
   */
  reorg(depth: number, orphans: 'dropped' | 'pooled' = 'dropped'): void {
    const orphaned = this.blocks.splice(Math.max(1, this.blocks.length - depth));
    if (orphans === 'pooled') for (const tx of orphaned.flatMap((b) => b.txs)) this.pool.set(tx.hash, tx);
    this.fork++;
    this.state = null;
  }

  /** The node forgets a pooled transaction (evicted, or the node restarted): hardhat_dropTransaction. */
  drop(txHash: Hex): void {
    if (!this.pool.delete(txHash)) throw new Error(`the pool does not hold ${txHash}`);
  }

  /** The next anchor transaction signed with our key will revert when mined (say, out of gas). */
  doomNextSignature(): void {
    this.doomNext = true;
  }

  /**
   * Another key anchors `batchId` with `root` now (another deployment's instance, say), and a block
   * built elsewhere, holding only that anchor, arrives: ours in the pool wait for the next block.
   */
  anchorAsOther(batchId: number, root: Hex, leafCount = 1): SignedTx {
    const fees = { tip: TIP, maxFee: 2n * this.fee + TIP };
    const tx = this.sign(OTHER_KEY, this.minedNonceOf(THEIRS), anchorCall(batchId, root, leafCount), fees);
    this.addBlock([pooledOf(tx.rawTx)]);
    return tx;
  }

  /**
   * Another holder of our key (a second instance, an operator's wallet) sends a plain transfer at
   * `nonce` to this node, outbidding whatever the pool holds at that nonce.
   */
  sendAsHolder(nonce: number): SignedTx {
    const tx = this.holderTransfer(nonce);
    const outcome = this.submit(tx.rawTx);
    if (outcome.kind !== 'sent') throw new Error(`the node refused the transfer: ${outcome.kind}`);
    if (this.automine) this.mine();
    return tx;
  }

  /**
   * Another holder of our key sends a plain transfer at `nonce`, and a block built elsewhere, holding
   * only it, arrives: the nonce is used, our pooled transaction at it is gone, those above it stay.
   */
  takeNonce(nonce: number): SignedTx {
    if (nonce !== this.minedNonceOf(OURS)) throw new Error(`nonce ${nonce} is not the next one to mine`);
    const tx = this.holderTransfer(nonce);
    for (const p of [...this.pool.values()])
      if (p.from === OURS && p.nonce === nonce) this.pool.delete(p.hash);
    this.addBlock([pooledOf(tx.rawTx)]);
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
    data: Hex,
    fees: { tip: bigint; maxFee: bigint },
    to: string = this.contract,
  ): SignedTx {
    const signed = memo(
      SIGNED,
      [key === OUR_KEY ? OURS : THEIRS, nonce, data, fees.tip, fees.maxFee, to].join(),
      () => {
        const tx = Transaction.from({
          type: 2,
          chainId: CHAIN_ID,
          nonce,
          to,
          data,
          gasLimit: GAS_LIMIT,
          maxPriorityFeePerGas: fees.tip,
          maxFeePerGas: fees.maxFee,
        });
        tx.signature = key.sign(tx.unsignedHash);
        return { rawTx: tx.serialized as Hex, txHash: tx.hash as Hex };
      },
    );
    if (key === OUR_KEY && data !== '0x' && this.doomNext) {
      this.doomNext = false;
      this.doomed.add(signed.txHash);
    }
    return signed;
  }

  /** How the pool takes a signed transaction (see the file's comment for each refusal). */
  private submit(rawTx: Hex): BroadcastOutcome {
    const tx = pooledOf(rawTx);
    if (this.pool.has(tx.hash)) return { kind: 'already-known' };
    const next = this.minedNonceOf(tx.from);
    if (tx.nonce < next) {
      return {
        kind: 'nonce-used',
        error: new Error(`nonce too low: next nonce ${next}, tx nonce ${tx.nonce}`),
      };
    }
    if (this.refusesUnderBaseFee && tx.maxFee < this.fee) {
      return { kind: 'fee-too-low', error: new Error('max fee per gas less than block base fee') };
    }
    const rival = [...this.pool.values()].find((p) => p.from === tx.from && p.nonce === tx.nonce);
    const outbids = (offer: bigint, held: bigint) => offer * 100n >= held * 110n;
    if (rival && !(outbids(tx.maxFee, rival.maxFee) && outbids(tx.tip, rival.tip))) {
      return { kind: 'fee-too-low', error: new Error('replacement transaction underpriced') };
    }
    const upfront = GAS_LIMIT * tx.maxFee;
    if (tx.from === OURS && this.balanceNow() < upfront) {
      return {
        kind: 'insufficient-funds',
        error: new InsufficientFundsError(
          `anchorer ${OURS} has insufficient funds to anchor batch ${tx.anchor?.batchId ?? '?'}: balance ${formatEther(this.balanceNow())} ETH, the transaction may cost up to ${formatEther(upfront)} ETH; fund the account`,
        ),
      };
    }
    if (tx.from === OURS && tx.anchor) this.watchSend(tx, rival);
    if (rival) this.pool.delete(rival.hash);
    this.pool.set(tx.hash, tx);
    this.accepted.push(rawTx);
    return { kind: 'sent' };
  }

  /** Notes a send of an anchor of ours the node should never see (`rival` is the one it replaces). */
  private watchSend(tx: Pooled, rival: Pooled | undefined): void {
    const { batchId } = tx.anchor!;
    if (this.execute().events.has(batchId)) {
      this.breaches.push(`sent an anchor for batch ${batchId}, which the contract already holds`);
    }
    const twin = this.runnable().find((p) => p !== rival && p.anchor?.batchId === batchId);
    if (twin) {
      this.breaches.push(
        `sent batch ${batchId} at nonce ${tx.nonce} while the pool holds it at ${twin.nonce}`,
      );
    }
  }

  /** A transfer to itself from our account at `nonce`, at twice the fees our anchors offer. */
  private holderTransfer(nonce: number): SignedTx {
    return this.sign(OUR_KEY, nonce, '0x', { tip: 2n * TIP, maxFee: 2n * (2n * this.fee + TIP) }, OURS);
  }

  /** Our pooled transactions the node can mine: the run of nonces from the mined ones. */
  private runnable(): Pooled[] {
    const [mined, pending] = [this.minedNonceOf(OURS), this.pendingNonceOf(OURS)];
    return [...this.pool.values()].filter((p) => p.from === OURS && p.nonce >= mined && p.nonce < pending);
  }

  private addBlock(txs: Pooled[]): void {
    this.blocks.push({ hash: blockHash(this.blocks.length, this.fork), baseFee: this.fee, txs });
    this.state = null;
  }

  private minedNonceOf(account: string): number {
    return this.execute().nonces.get(account) ?? 0;
  }

  /** The next nonce of `account` counting what the pool holds in a row above the mined ones. */
  private pendingNonceOf(account: string): number {
    let nonce = this.minedNonceOf(account);
    const pooled = new Set([...this.pool.values()].filter((p) => p.from === account).map((p) => p.nonce));
    while (pooled.has(nonce)) nonce++;
    return nonce;
  }

  private balanceNow(): bigint {
    return this.funds - this.execute().spent;
  }

  /** Runs the canonical blocks from genesis: cheap at these sizes, and a reorg needs no undo. */
  private execute(): Executed {
    if (this.state) return this.state;
    const state: Executed = {
      nonces: new Map(),
      next: 1,
      roots: new Map(),
      events: new Map(),
      receipts: new Map(),
      spent: 0n,
    };
    this.blocks.forEach((block, blockNumber) => {
      for (const tx of block.txs) {
        state.nonces.set(tx.from, tx.nonce + 1);
        const anchor = tx.anchor;
        const ok = anchor === null || (anchor.batchId === state.next && !this.doomed.has(tx.hash));
        const gasUsed = anchor === null ? GAS.transfer : ok ? GAS.anchored : GAS.reverted;
        const gasPrice = min(tx.maxFee, block.baseFee + tx.tip);
        if (tx.from === OURS) state.spent += gasUsed * gasPrice;
        const where = { blockNumber, blockHash: block.hash };
        state.receipts.set(tx.hash, { status: ok ? 'success' : 'reverted', ...where, gasUsed, gasPrice });
        if (anchor === null || !ok) continue;
        state.roots.set(anchor.batchId, anchor.root);
        state.events.set(anchor.batchId, { ...anchor, txHash: tx.hash, ...where });
        state.next++;
      }
    });
    return (this.state = state);
  }
}

/**
 * Signing and decoding are pure but slow (a signature or a sender's recovery costs milliseconds), and
 * the crash matrices make the same few transactions hundreds of times: each is made once per file.
 */
const SIGNED = new Map<string, SignedTx>();
const POOLED = new Map<Hex, Pooled>();
const CALLS = new Map<string, Hex>();

function memo<K, V>(cache: Map<K, V>, key: K, make: () => V): V {
  let value = cache.get(key);
  if (value === undefined) cache.set(key, (value = make()));
  return value;
}

/** A signed transaction as the pool keeps it. */
function pooledOf(rawTx: Hex): Pooled {
  return memo(POOLED, rawTx, () => decode(rawTx));
}

function decode(rawTx: Hex): Pooled {
  const tx = Transaction.from(rawTx);
  const call = tx.data === '0x' ? null : registryAbi.parseTransaction({ data: tx.data })!;
  return {
    raw: rawTx,
    hash: tx.hash as Hex,
    from: tx.from!,
    nonce: tx.nonce,
    maxFee: tx.maxFeePerGas ?? 0n,
    tip: tx.maxPriorityFeePerGas ?? 0n,
    anchor: call && {
      batchId: Number(call.args[0]),
      root: (call.args[1] as string).toLowerCase() as Hex,
      leafCount: Number(call.args[2]),
    },
  };
}

function anchorCall(batchId: number, root: Hex, leafCount: number): Hex {
  return memo(CALLS, [batchId, root, leafCount].join(), () =>
    registryAbi.encodeFunctionData('anchor', [batchId, root, leafCount]),
  ) as Hex;
}

function blockHash(number: number, fork: number): Hex {
  return keccak256(toUtf8Bytes(`block ${number} fork ${fork}`)) as Hex;
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
