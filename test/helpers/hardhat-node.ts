/**
 * A separate `hardhat node` process: a chain that outlives the service under test, as a real chain
 * does (the embedded development chain dies with the service and is replayed at its start). It
 * automines unless told to mine on a clock (evm_setIntervalMining). Its safe and finalized blocks
 * are its latest.
 */
import { join } from 'node:path';
import { toQuantity } from 'ethers';
import { deployRegistry } from '../../src/chain/deploy.ts';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import type { ChainNode } from './chain-node.ts';
import { startNodeProcess } from './node-process.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface HardhatNode extends ChainNode {
  readonly kind: 'hardhat';
}

/** Starts `hardhat node` on a free port; with `blockTimeMs`, mining on that clock instead of automining. */
export async function startHardhatNode(opts: { blockTimeMs?: number } = {}): Promise<HardhatNode> {
  const { url, provider, stop } = await startNodeProcess({
    name: 'hardhat node',
    command: process.execPath,
    args: (port) => [
      ...['node_modules/hardhat/internal/cli/cli.js', 'node'],
      ...['--hostname', '127.0.0.1', '--port', String(port)],
    ],
    ready: 'Started HTTP',
    cwd: ROOT,
  });
  const node: HardhatNode = {
    kind: 'hardhat',
    url,
    provider,
    async deploy() {
      return (await deployRegistry(provider, DEV_DEPLOYER_KEY)).address;
    },
    async mineEvery(ms) {
      await provider.send('evm_setAutomine', [false]);
      await provider.send('evm_setIntervalMining', [ms]);
    },
    async mine(blocks = 1) {
      await provider.send('hardhat_mine', [toQuantity(blocks)]);
    },
    async dropTransaction(txHash) {
      if (!(await provider.send('hardhat_dropTransaction', [txHash])))
        throw new Error(`${txHash} not in the pool`);
    },
    async setNextBaseFee(wei) {
      await provider.send('hardhat_setNextBlockBaseFeePerGas', [toQuantity(wei)]);
    },
    async setBalance(address, wei) {
      await provider.send('hardhat_setBalance', [address, toQuantity(wei)]);
    },
    snapshot: () => provider.send('evm_snapshot', []),
    async revert(snapshot) {
      if (!(await provider.send('evm_revert', [snapshot]))) throw new Error(`no snapshot ${snapshot}`);
    },
    stop,
  };
  if (opts.blockTimeMs) await node.mineEvery(opts.blockTimeMs);
  return node;
}
