/**
 * A separate `hardhat node` process: a chain that outlives the service under test, as a real chain
 * does (the embedded development chain dies with the service and is replayed at its start).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { JsonRpcProvider } from 'ethers';
import { deployRegistry } from '../../src/chain/deploy.ts';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import { freePort } from './net.ts';
import { waitFor } from './wait.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface HardhatNode {
  url: string;
  provider: JsonRpcProvider;
  /** A fresh AnchorRegistry (anchorer: the deployer, Hardhat account #0): its own batch-id space. */
  deploy(): Promise<string>;
  stop(): Promise<void>;
}

export async function startHardhatNode(): Promise<HardhatNode> {
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
  return {
    url,
    provider,
    async deploy() {
      return (await deployRegistry(provider, DEV_DEPLOYER_KEY)).address;
    },
    async stop() {
      provider.destroy();
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
