/**
 * Foundry's anvil, another EVM node implementation (Rust, not Hardhat's EthereumJS lineage), as a
 * process of its own: from the @foundry-rs/anvil package's platform binary, on a free port, the
 * cancun hardfork, mining a block every `blockTimeS` seconds. Its `safe` block lags the head by
 * `slotsInAnEpoch` blocks and its `finalized` block by twice that, which gives CONFIRMATIONS=safe
 * and =finalized a mark that trails the head by a known distance. Accounts and keys are Hardhat's
 * (the same test mnemonic), so the development deployer key anchors on both.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { toQuantity } from 'ethers';
import { deployRegistry } from '../../src/chain/deploy.ts';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import type { ChainNode } from './chain-node.ts';
import { startNodeProcess } from './node-process.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** The binary the optional platform package ships (its postinstall downloader is never needed). */
export const ANVIL_BIN = join(
  ROOT,
  'node_modules',
  '@foundry-rs',
  `anvil-${process.platform}-${arch()}`,
  'bin',
  'anvil',
);

function arch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

export interface AnvilNode extends ChainNode {
  readonly kind: 'anvil';
  /**
   * anvil_reorg: takes the last `depth` blocks off the chain and mines as many new ones in their
   * place; the transactions they held are gone (not back in the pool).
   */
  reorg(depth: number): Promise<void>;
}

export interface AnvilOptions {
  /** Seconds between blocks (anvil --block-time); 1 unless given. */
  blockTimeS?: number;
  /** anvil --slots-in-an-epoch: the safe block trails the head by this many, finalized by twice. 32 unless given. */
  slotsInAnEpoch?: number;
}

export async function startAnvilNode(opts: AnvilOptions = {}): Promise<AnvilNode> {
  if (!existsSync(ANVIL_BIN)) throw new Error(`no anvil binary at ${ANVIL_BIN}: run npm ci`);
  const { url, provider, stop } = await startNodeProcess({
    name: 'anvil',
    command: ANVIL_BIN,
    args: (port) => [
      ...['--host', '127.0.0.1', '--port', String(port), '--hardfork', 'cancun'],
      ...['--block-time', String(opts.blockTimeS ?? 1)],
      ...['--slots-in-an-epoch', String(opts.slotsInAnEpoch ?? 32)],
    ],
    ready: 'Listening on',
  });
  return {
    kind: 'anvil',
    url,
    provider,
    async deploy() {
      return (await deployRegistry(provider, DEV_DEPLOYER_KEY)).address;
    },
    async mineEvery(ms) {
      if (ms % 1000 !== 0) throw new Error('anvil mines on a clock of whole seconds');
      await provider.send('evm_setIntervalMining', [ms / 1000]);
    },
    async mine(blocks = 1) {
      await provider.send('anvil_mine', [toQuantity(blocks)]);
    },
    async dropTransaction(txHash) {
      await provider.send('anvil_dropTransaction', [txHash]);
    },
    async setNextBaseFee(wei) {
      await provider.send('anvil_setNextBlockBaseFeePerGas', [toQuantity(wei)]);
    },
    async setBalance(address, wei) {
      await provider.send('anvil_setBalance', [address, toQuantity(wei)]);
    },
    snapshot: () => provider.send('evm_snapshot', []),
    async revert(snapshot) {
      if (!(await provider.send('evm_revert', [snapshot]))) throw new Error(`no snapshot ${snapshot}`);
    },
    async reorg(depth) {
      await provider.send('anvil_reorg', [depth, []]);
    },
    stop,
  };
}
