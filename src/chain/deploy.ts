/** Deploys an AnchorRegistry and grants ANCHORER_ROLE: used by `proofmark deploy` and the dev chain. */
import { ContractFactory, Wallet, id, type Provider } from 'ethers';
import { registryAbi, registryBytecode } from './registry.ts';
import type { Hex } from '../core/index.ts';

export const ANCHORER_ROLE = id('ANCHORER_ROLE') as Hex;

export interface Deployment {
  address: Hex;
  chainId: number;
  txHash: Hex;
  blockNumber: number;
}

/** The deployer becomes the admin; `anchorer` (default: the deployer) gets ANCHORER_ROLE. */
export async function deployRegistry(
  provider: Provider,
  deployerKey: string,
  anchorer?: string,
): Promise<Deployment> {
  const wallet = new Wallet(deployerKey, provider);
  const factory = new ContractFactory(registryAbi, registryBytecode, wallet);
  // Explicit nonces: a provider's view of the pending nonce can lag right after a mined transaction.
  const nonce = await provider.getTransactionCount(wallet.address, 'latest');
  const contract = await factory.deploy(wallet.address, { nonce });
  const deployTx = contract.deploymentTransaction()!;
  const deployReceipt = await deployTx.wait();
  const address = (await contract.getAddress()) as Hex;
  const grant = await contract.getFunction('grantRole')(ANCHORER_ROLE, anchorer ?? wallet.address, {
    nonce: nonce + 1,
  });
  await grant.wait();
  return {
    address,
    chainId: Number((await provider.getNetwork()).chainId),
    txHash: deployTx.hash as Hex,
    blockNumber: deployReceipt!.blockNumber,
  };
}
