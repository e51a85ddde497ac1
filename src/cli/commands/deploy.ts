/** `proofmark deploy`: deploys AnchorRegistry and grants ANCHORER_ROLE. The key is never printed. */
import { isAddress } from 'ethers';
import { DEFAULT_RPC_TIMEOUT_MS, openRpcProvider } from '../../chain/rpc-provider.ts';
import { deployRegistry } from '../../chain/deploy.ts';
import { CliError, errorMessage, note, println } from '../output.ts';

export interface DeployOptions {
  rpc: string;
  key?: string;
  anchorer?: string;
  json?: boolean;
}

const PRIVATE_KEY = /^(0x)?[0-9a-fA-F]{64}$/;

export async function deployCommand(
  opts: DeployOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const key = opts.key ?? env.DEPLOYER_PRIVATE_KEY?.trim();
  if (!key) throw new CliError('no deployer key: set DEPLOYER_PRIVATE_KEY (preferred) or pass --key');
  // The message must not echo the key, even a malformed one.
  if (!PRIVATE_KEY.test(key)) throw new CliError('the deployer key must be 32 bytes of hex');
  if (opts.anchorer !== undefined && !isAddress(opts.anchorer)) {
    throw new CliError(`--anchorer must be a 0x-prefixed 20-byte address, not "${opts.anchorer}"`);
  }

  const provider = openRpcProvider(opts.rpc, { timeoutMs: DEFAULT_RPC_TIMEOUT_MS });
  try {
    try {
      await provider.getNetwork();
    } catch (err) {
      throw new CliError(`cannot reach RPC ${opts.rpc}: ${errorMessage(err)}`, 1, { cause: err });
    }
    const normalisedKey = key.startsWith('0x') ? key : `0x${key}`;
    let deployment;
    try {
      deployment = await deployRegistry(provider, normalisedKey, opts.anchorer);
    } catch (err) {
      throw new CliError(`deploy failed: ${errorMessage(err)}`, 1, { cause: err });
    }
    const { address, chainId, txHash, blockNumber } = deployment;
    const anchorer = opts.anchorer ?? 'the deployer';
    const log = opts.json ? note : println;
    log(`deployed AnchorRegistry at ${address} on chain ${chainId} (tx ${txHash}, block ${blockNumber})`);
    log(`ANCHORER_ROLE granted to ${anchorer}; run the service with ANCHOR_CONTRACT=${address}`);
    if (opts.json) println(JSON.stringify({ address, chainId, txHash }));
  } finally {
    provider.destroy();
  }
}
