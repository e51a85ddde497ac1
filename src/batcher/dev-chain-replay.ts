/**
 * Brings the embedded development chain back to what the database says was anchored: deploys the
 * registry from the well-known dev key at nonce 0 (so at the same address every time) and replays
 * every anchored batch, in order. The development chain is a convenience; a real chain is durable.
 *
 * The replay changes batch state, so it lives with the batcher and holds the anchorer lease like any
 * other writer of it: it takes the runtime's own lease before it starts, and the batcher keeps it
 * from there.
 */
import { Contract, Wallet } from 'ethers';
import type { Logger } from 'pino';
import type { BatchChange, BatchStatus, LeaseFence } from '../storage/rows.ts';
import type { BatchStore } from '../storage/storage.ts';
import { deployRegistry } from '../chain/deploy.ts';
import { DEV_DEPLOYER_KEY, startDevChain, type DevChain } from '../chain/dev-chain.ts';
import { registryAbi } from '../chain/registry.ts';
import { openRpcProvider } from '../chain/rpc-provider.ts';
import type { Lease } from './lease.ts';

const LEASE_POLL_MS = 100;

export async function bootDevChain(
  batches: BatchStore,
  lease: Lease,
  port: number,
  log: Logger,
): Promise<{ devChain: DevChain; contract: string }> {
  const devChain = await startDevChain({ port });
  const provider = openRpcProvider(devChain.url, { pollMs: 50 });
  try {
    const deployment = await deployRegistry(provider, DEV_DEPLOYER_KEY);
    const registry = new Contract(deployment.address, registryAbi, new Wallet(DEV_DEPLOYER_KEY, provider));
    // A fresh database has nothing to replay and needs no lease.
    const onChainBefore = await batches.withStatus(['submitted', 'anchored', 'final']);
    const replayed = onChainBefore.length > 0 ? await replay(batches, registry, await takeLease(lease)) : 0;
    log.warn(
      { rpcUrl: devChain.url, contract: deployment.address, replayedBatches: replayed },
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

/**
 * Anchors every anchored and final batch again, in id order, and records where; sends submitted
 * batches back to sealed. Returns how many batches it anchored.
 */
async function replay(batches: BatchStore, registry: Contract, fence: LeaseFence): Promise<number> {
  const anchored = await batches.withStatus(['anchored', 'final']);
  for (const batch of anchored) {
    const tx = await (batch.state_root === null
      ? registry.getFunction('anchor')(batch.id, batch.root, batch.leaf_count)
      : registry.getFunction('anchorWithState')(batch.id, batch.root, batch.leaf_count, batch.state_root));
    const receipt = await tx.wait();
    await transition(batches, fence, batch.id, batch.status, batch.status, {
      tx_hash: receipt.hash,
      block_number: receipt.blockNumber,
      block_hash: receipt.blockHash,
    });
  }
  // A transaction signed for the previous chain is void: sign those batches again.
  for (const batch of await batches.withStatus(['submitted'])) {
    await transition(batches, fence, batch.id, 'submitted', 'sealed', { raw_tx: null, tx_hash: null });
  }
  return anchored.length;
}

/**
 * The lease's fence, waiting while another holder has it: a process that died holding it (a crash,
 * then this restart) loses it within one TTL. A holder still renewing it after two is alive, and a
 * development chain, private to its process, cannot share the database with it.
 */
async function takeLease(lease: Lease): Promise<LeaseFence> {
  const deadline = Date.now() + 2 * lease.ttlMs;
  while (!(await lease.acquire())) {
    if (Date.now() > deadline) {
      throw new Error(
        'another instance holds the anchorer lease: the development chain needs the database to itself',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS));
  }
  return lease.fence!;
}

async function transition(
  batches: BatchStore,
  fence: LeaseFence,
  id: number,
  from: BatchStatus,
  to: BatchStatus,
  change: BatchChange,
): Promise<void> {
  if (!(await batches.transition(id, from, to, change, fence))) {
    throw new Error(
      `batch ${id} changed or the anchorer lease was lost while the development chain replayed it`,
    );
  }
}
