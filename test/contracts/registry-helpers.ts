/**
 * Helpers for the AnchorRegistry contract tests: a typed view of the contract, deployment, and
 * decoding of custom errors as they come back from a Hardhat node over JSON-RPC.
 *
 * How ethers v6 surfaces a revert here:
 * - A contract send (`registry.anchor(...)`) is estimated first; a revert during estimation rejects
 *   with code CALL_EXCEPTION, the raw revert data in `err.data`, and `err.revert === null` (ethers
 *   decodes custom errors only on the staticCall path, not for sends), so we decode `err.data` with
 *   the contract's Interface ourselves.
 * - A transaction that reverts once mined has no revert data in its receipt; `revertDataOf` reads it
 *   back from Hardhat's debug_traceTransaction.
 */
import { expect } from 'vitest';
import {
  ContractFactory,
  Interface,
  JsonRpcProvider,
  Wallet,
  isError,
  type BaseContract,
  type BaseContractMethod,
  type ContractRunner,
  type ContractTransactionResponse,
  type ErrorDescription,
  type TransactionReceipt,
} from 'ethers';
import artifact from '../../src/chain/artifacts/AnchorRegistry.json' with { type: 'json' };

/**
 * Hardhat's well-known, pre-funded development accounts #1 and #2 (account #0 is DEV_DEPLOYER_KEY):
 * m/44'/60'/0'/0/1 and /2 of the mnemonic "test test test test test test test test test test test junk".
 */
export const DEV_KEY_1 = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
export const DEV_KEY_2 = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a';

export const registryInterface = new Interface(artifact.abi);

type Tx = ContractTransactionResponse;
type Uint = bigint | number;

/** The contract's ABI as ethers methods (what typechain would generate). */
export type AnchorRegistry = BaseContract & {
  ANCHORER_ROLE: BaseContractMethod<[], string, string>;
  DEFAULT_ADMIN_ROLE: BaseContractMethod<[], string, string>;
  anchor: BaseContractMethod<[Uint, string, Uint], void, Tx>;
  anchorWithState: BaseContractMethod<[Uint, string, Uint, string], void, Tx>;
  supportsInterface: BaseContractMethod<[string], boolean, boolean>;
  nextBatchId: BaseContractMethod<[], bigint, bigint>;
  rootOf: BaseContractMethod<[Uint], string, string>;
  verify: BaseContractMethod<[Uint, string, string[]], boolean, boolean>;
  hasRole: BaseContractMethod<[string, string], boolean, boolean>;
  getRoleAdmin: BaseContractMethod<[string], string, string>;
  grantRole: BaseContractMethod<[string, string], void, Tx>;
  revokeRole: BaseContractMethod<[string, string], void, Tx>;
};

/**
 * A provider for the dev chain. The response cache is off: with automining, a nonce read that ethers
 * would otherwise serve from its 250 ms cache can be stale by the time the next transaction is signed.
 */
export function devProvider(url: string, chainId: number): JsonRpcProvider {
  return new JsonRpcProvider(url, chainId, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
}

export function registryFactory(deployer: Wallet): ContractFactory {
  return new ContractFactory(artifact.abi, artifact.bytecode, deployer);
}

/** Deploys a registry administered by `admin` (default: the deployer) and grants ANCHORER_ROLE. */
export async function deployRegistry(
  deployer: Wallet,
  opts: { admin?: string; anchorers?: string[] } = {},
): Promise<AnchorRegistry> {
  const deployed = await registryFactory(deployer).deploy(opts.admin ?? deployer.address);
  await deployed.waitForDeployment();
  const registry = deployed as unknown as AnchorRegistry;
  if (opts.anchorers?.length) {
    const role = await registry.ANCHORER_ROLE();
    for (const account of opts.anchorers) await (await registry.grantRole(role, account)).wait();
  }
  return registry;
}

export function as(registry: AnchorRegistry, runner: ContractRunner): AnchorRegistry {
  return registry.connect(runner) as unknown as AnchorRegistry;
}

/** Sends, waits for the receipt, and insists that it succeeded. */
export async function mined(send: Promise<Tx>): Promise<TransactionReceipt> {
  const receipt = await (await send).wait();
  if (!receipt || receipt.status !== 1) throw new Error('transaction did not succeed');
  return receipt;
}

const HEX_DATA = /^0x(?:[0-9a-fA-F]{2})*$/;

/** The revert data carried by an ethers error from a JSON-RPC Hardhat node. */
export function revertData(err: unknown): string {
  const e = err as {
    data?: unknown;
    error?: { data?: unknown };
    info?: { error?: { data?: unknown } };
  };
  const nested = e.error?.data as { data?: unknown } | undefined;
  for (const candidate of [e.data, nested?.data, e.error?.data, e.info?.error?.data]) {
    if (typeof candidate === 'string' && HEX_DATA.test(candidate) && candidate.length >= 10) return candidate;
  }
  throw new Error(`no revert data in error: ${String(err)}`);
}

export function decodeError(data: string): ErrorDescription {
  const parsed = registryInterface.parseError(data);
  if (!parsed) throw new Error(`revert data ${data} is no error of AnchorRegistry`);
  return parsed;
}

/** Awaits `action`, which must reject with CALL_EXCEPTION carrying custom error `name(...args)`. */
export async function expectCustomError(
  action: Promise<unknown>,
  name: string,
  args: unknown[] = [],
): Promise<void> {
  let rejected = false;
  let error: unknown;
  try {
    await action;
  } catch (err) {
    rejected = true;
    error = err;
  }
  expect(rejected, `expected a revert with ${name}`).toBe(true);
  expect(isError(error, 'CALL_EXCEPTION'), `expected CALL_EXCEPTION, got ${String(error)}`).toBe(true);
  const parsed = decodeError(revertData(error));
  expect(parsed.name).toBe(name);
  expect([...parsed.args]).toEqual(args);
}

/**
 * Sends every transaction with automining paused, then mines them all into one block, as when two
 * service instances race. Each send must set its own gasLimit, or ethers' gas estimation would reject
 * a transaction that is bound to revert before it reaches the mempool.
 */
export async function mineInOneBlock(
  provider: JsonRpcProvider,
  sends: Array<() => Promise<{ hash: string }>>,
): Promise<TransactionReceipt[]> {
  const txs: Array<{ hash: string }> = [];
  await provider.send('evm_setAutomine', [false]);
  try {
    for (const send of sends) txs.push(await send());
    await provider.send('evm_mine', []);
  } finally {
    await provider.send('evm_setAutomine', [true]);
  }
  return Promise.all(
    txs.map(async (tx) => {
      const receipt = await provider.getTransactionReceipt(tx.hash);
      if (!receipt) throw new Error(`transaction ${tx.hash} was not mined`);
      return receipt;
    }),
  );
}

/** The revert data of a mined, reverted transaction, read back through Hardhat's tracer. */
export async function revertDataOf(provider: JsonRpcProvider, txHash: string): Promise<string> {
  const trace = (await provider.send('debug_traceTransaction', [
    txHash,
    { disableStorage: true, disableMemory: true, disableStack: true },
  ])) as { failed: boolean; returnValue: string };
  if (!trace.failed) throw new Error(`transaction ${txHash} did not revert`);
  return trace.returnValue.startsWith('0x') ? trace.returnValue : `0x${trace.returnValue}`;
}
