/**
 * The embedded development chain: a Hardhat network served as JSON-RPC on a local port.
 *
 * The service reaches it through ethers' JsonRpcProvider exactly as it would reach a real chain.
 * It is a convenience: its state lives in memory and is gone when the process exits. The service
 * restores it on start by redeploying the registry from the same key and nonce (same address) and
 * replaying every anchored root in order (see src/chain/dev-replay.ts).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';

const requireCjs = createRequire(import.meta.url);

/** Hardhat's well-known first development account. Public knowledge: never use it on a real chain. */
export const DEV_DEPLOYER_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
export const DEV_CHAIN_ID = 31337;

export interface DevChain {
  url: string;
  port: number;
  chainId: number;
  close(): Promise<void>;
}

interface JsonRpcServerLike {
  listen(): Promise<AddressInfo>;
  close(): Promise<void>;
}

/** Starts a fresh Hardhat network (cancun, automine, fixed genesis time) on 127.0.0.1:port (0 = any free port). */
export async function startDevChain(opts: { port?: number; host?: string } = {}): Promise<DevChain> {
  // Hardhat 2 is CommonJS and has no public API for serving its network in-process; these internals
  // are what `hardhat node` itself uses, pinned by package-lock.json.
  const { resolveConfig } = requireCjs('hardhat/internal/core/config/config-resolution');
  const { createProvider } = requireCjs('hardhat/internal/core/providers/construction');
  const { JsonRpcServer } = requireCjs('hardhat/internal/hardhat-network/jsonrpc/server');

  // resolveConfig needs an existing file to derive the project root from; no config file is loaded.
  const config = resolveConfig(fileURLToPath(import.meta.url), {
    networks: {
      hardhat: {
        chainId: DEV_CHAIN_ID,
        hardfork: 'cancun',
        // A fixed genesis makes replays after a restart produce the same blocks and transaction hashes.
        initialDate: '2026-01-01T00:00:00Z',
        loggingEnabled: false,
        mining: { auto: true, interval: 0 },
      },
    },
  });
  const provider = await createProvider(config, 'hardhat');
  const server: JsonRpcServerLike = new JsonRpcServer({
    hostname: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    provider,
  });
  const address = await listenOrExplain(server, opts.port ?? 0);
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    chainId: DEV_CHAIN_ID,
    close: () => server.close(),
  };
}

async function listenOrExplain(server: JsonRpcServerLike, port: number): Promise<AddressInfo> {
  // Hardhat's listen() never rejects: an in-use port surfaces as an 'error' event on its http server.
  // Its websocket server re-emits the same error and would crash the process without a listener.
  const internals = server as unknown as {
    _httpServer: import('node:http').Server;
    _wsServer: import('node:events').EventEmitter;
  };
  const inner = internals._httpServer;
  internals._wsServer.on('error', () => {});
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`DEV_CHAIN_PORT ${port} is already in use; set DEV_CHAIN_PORT to a free port`)
          : err,
      );
    };
    inner.once('error', onError);
    server.listen().then((addr) => {
      inner.off('error', onError);
      resolve(addr);
    }, reject);
  });
}
