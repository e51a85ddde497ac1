/**
 * Brings the embedded development chain back to what the database says was anchored: deploys the
 * registry from the well-known dev key at nonce 0 (so at the same address every time) and replays
 * every anchored batch, in order. The development chain is a convenience; a real chain is durable.
 */
import { Contract, Wallet } from 'ethers';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../storage/schema.ts';
import { deployRegistry } from './deploy.ts';
import { DEV_DEPLOYER_KEY, startDevChain, type DevChain } from './dev-chain.ts';
import { openRpcProvider } from './rpc-provider.ts';
import { registryAbi } from './registry.ts';

export async function bootDevChain(
  db: Kysely<Database>,
  port: number,
  log: Logger,
): Promise<{ devChain: DevChain; contract: string }> {
  const devChain = await startDevChain({ port });
  const provider = openRpcProvider(devChain.url, { pollMs: 50 });
  try {
    const deployment = await deployRegistry(provider, DEV_DEPLOYER_KEY);
    const registry = new Contract(deployment.address, registryAbi, new Wallet(DEV_DEPLOYER_KEY, provider));
    const anchored = await db
      .selectFrom('batches')
      .select(['id', 'root', 'leaf_count', 'status', 'tx_hash'])
      .where('status', 'in', ['anchored', 'final'])
      .orderBy('id')
      .execute();
    for (const batch of anchored) {
      const tx = await registry.getFunction('anchor')(batch.id, batch.root, batch.leaf_count);
      const receipt = await tx.wait();
      await db
        .updateTable('batches')
        .set({ tx_hash: receipt.hash, block_number: receipt.blockNumber, block_hash: receipt.blockHash })
        .where('id', '=', batch.id)
        .execute();
    }
    // A transaction signed for the previous chain is void: sign those batches again.
    await db
      .updateTable('batches')
      .set({ status: 'sealed', raw_tx: null, tx_hash: null })
      .where('status', '=', 'submitted')
      .execute();
    log.warn(
      { rpcUrl: devChain.url, contract: deployment.address, replayedBatches: anchored.length },
      'development chain started: it lives in memory and is rebuilt from the database at each start. ' +
        'It is a convenience for trying proofmark; anchor to a real chain (RPC_URL) for durable evidence.',
    );
    return { devChain, contract: deployment.address };
  } catch (err) {
    await devChain.close();
    throw err;
  } finally {
    provider.destroy();
  }
}
