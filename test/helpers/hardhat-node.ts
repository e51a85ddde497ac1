/**
 * A separate `hardhat node` process: a chain that outlives the service under test, as a real chain
 * does (the embedded development chain dies with the service and is replayed at its start). It
 * automines unless told to mine on a clock (evm_setIntervalMining). Its safe and finalized blocks
 * are its latest.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { JsonRpcProvider, toQuantity } from 'ethers';
import { deployRegistry } from '../../src/chain/deploy.ts';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import type { ChainNode } from './chain-node.ts';
import { freePort } from './net.ts';
import { waitFor } from './wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface HardhatNode extends ChainNode {
  readonly kind: 'hardhat';
}

/** Starts `hardhat node` on a free port; with `blockTimeMs`, mining on that clock instead of automining. */
export async function startHardhatNode(opts: { blockTimeMs?: number } = {}): Promise<HardhatNode> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['node_modules/hardhat/internal/cli/cli.js', 'node', '--hostname', '127.0.0.1', '--port', String(port)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    // The node logs every call; keep only the start, which says whether it is up or why not.
    if (output.length < 20_000) output += chunk.toString();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'hardhat node to start',
    () => {
      if (child.exitCode !== null) throw new Error(`hardhat node exited:\n${output}`);
      return output.includes('Started HTTP');
    },
    60_000,
    100,
  );
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
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
    async stop() {
      provider.destroy();
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  if (opts.blockTimeMs) await node.mineEvery(opts.blockTimeMs);
  return node;
}
