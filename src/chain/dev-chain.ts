/**
 * The embedded development chain: an in-process Hardhat network served as JSON-RPC on a local port.
 *
 * The service reaches it through ethers' JsonRpcProvider exactly as it would reach a real chain.
 * It is a convenience: its state lives in memory and is gone when the process exits. The service
 * restores it on start by redeploying the registry from the same key and nonce (same address) and
 * replaying every anchored root in order (see src/batcher/dev-chain-replay.ts).
 *
 * Only Hardhat's public API is used: `require('hardhat')` builds a Hardhat Runtime Environment whose
 * `network.provider` is an EIP-1193 provider over an in-process network, and json-rpc-server.ts
 * serves that provider over HTTP.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { HardhatRuntimeEnvironment } from 'hardhat/types/index.js';
import devNetwork from './dev-network.json' with { type: 'json' };
import { serveJsonRpc, type Eip1193Provider } from './json-rpc-server.ts';

/**
 * The Hardhat config the development network is built from, in place of the project's
 * hardhat.config.ts: `npm start` needs neither TypeScript support in Hardhat, the compiler, plugins
 * nor a particular working directory. Its settings: chain id 31337, cancun, automine, and a fixed
 * genesis time, so that replays after a restart produce the same blocks and transaction hashes.
 */
const DEV_NETWORK_CONFIG = fileURLToPath(new URL('./dev-network.json', import.meta.url));

/** Hardhat's well-known first development account. Public knowledge: never use it on a real chain. */
export const DEV_DEPLOYER_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
export const DEV_CHAIN_ID: number = devNetwork.networks.hardhat.chainId;

export interface DevChain {
  url: string;
  port: number;
  chainId: number;
  close(): Promise<void>;
}

/**
 * Starts a fresh Hardhat network (its own state, independent of any other started in this process)
 * and serves it on host:port (default 127.0.0.1; port 0 = any free port). A port in use is reported
 * as the DEV_CHAIN_PORT setting to change.
 */
export async function startDevChain(opts: { port?: number; host?: string } = {}): Promise<DevChain> {
  const port = opts.port ?? 0;
  const provider = createNetwork();
  const server = await serveJsonRpc(provider, { host: opts.host ?? '127.0.0.1', port }).catch(
    (err: NodeJS.ErrnoException) => {
      throw err.code === 'EADDRINUSE'
        ? new Error(`DEV_CHAIN_PORT ${port} is already in use; set DEV_CHAIN_PORT to a free port`)
        : err;
    },
  );
  try {
    // Hardhat builds the network on its first request: do it now, so that a failure fails the start.
    await provider.request({ method: 'eth_chainId' });
  } catch (err) {
    await server.close();
    throw err;
  }
  const { address } = server.address;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${server.address.port}`,
    port: server.address.port,
    chainId: DEV_CHAIN_ID,
    close: () => server.close(),
  };
}

/**
 * A new in-process Hardhat network. Hardhat 2 keeps one runtime environment per process, loaded on
 * the first `require('hardhat')` (hence require, not a cached ES import); resetting its context
 * (`hardhat/plugins-testing`, the documented way to load a new environment) gives every call its own
 * environment, so its own network. An environment loaded earlier keeps working but is no longer
 * Hardhat's current one: nothing else in proofmark's runtime loads Hardhat.
 */
function createNetwork(): Eip1193Provider {
  // A require of this call's own: Node lists every module a require loads as a child of its parent
  // module, so a long-lived one would keep every environment loaded through it alive.
  const requireCjs = createRequire(import.meta.url);
  const { resetHardhatContext } = requireCjs(
    'hardhat/plugins-testing',
  ) as typeof import('hardhat/plugins-testing.js');
  resetHardhatContext();
  // Hardhat reads its global options from HARDHAT_* variables when loaded as a library: point it at
  // our config and network, whatever the caller's environment says, and restore that environment.
  const hre = withEnv({ HARDHAT_CONFIG: DEV_NETWORK_CONFIG, HARDHAT_NETWORK: 'hardhat' }, () => {
    try {
      return requireCjs('hardhat') as HardhatRuntimeEnvironment;
    } catch (err) {
      // Loading Hardhat creates its settings directory (~/.config/hardhat-nodejs on Linux).
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EROFS') throw err;
      throw new Error(
        `the development chain cannot start: Hardhat needs a writable home directory (${(err as Error).message})`,
        { cause: err },
      );
    }
  });
  return hre.network.provider;
}

function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const saved = Object.keys(vars).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
