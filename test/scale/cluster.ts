/**
 * Several proofmark instances on one PostgreSQL database and one chain, as a scaled deployment runs:
 * a shared Hardhat network (the "real chain" path: RPC_URL + ANCHOR_CONTRACT + ANCHORER_PRIVATE_KEY),
 * and helpers to load records through them and to check, against the database and the chain's logs,
 * that every acknowledged record is anchored exactly once.
 */
import { expect } from 'vitest';
import { JsonRpcProvider } from 'ethers';
import pino from 'pino';
import type { Kysely } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import { Batcher } from '../../src/batcher/batcher.ts';
import { Lease } from '../../src/batcher/lease.ts';
import { deployRegistry } from '../../src/chain/deploy.ts';
import { DEV_DEPLOYER_KEY, startDevChain, type DevChain } from '../../src/chain/dev-chain.ts';
import { connectRegistry, type AnchorChain } from '../../src/chain/registry.ts';
import type { Database } from '../../src/storage/sql/schema.ts';
import type { Harness } from '../helpers/harness.ts';

export const LEASE_MS = 1000;
/** The deployment's SECRET_KEY: every instance of one deployment shares it. */
export const TEST_SECRET_KEY = '5e'.repeat(32);

export interface SharedChain {
  devChain: DevChain;
  url: string;
  provider: JsonRpcProvider;
  /** A fresh AnchorRegistry on this chain: each scenario gets its own batch-id space. */
  deploy(): Promise<string>;
  /** Raw JSON-RPC to the Hardhat network (evm_setAutomine, evm_mine, ...). */
  rpc(method: string, params?: unknown[]): Promise<unknown>;
  close(): Promise<void>;
}

export async function startSharedChain(): Promise<SharedChain> {
  const devChain = await startDevChain({ port: 0 });
  const provider = new JsonRpcProvider(devChain.url, undefined, { staticNetwork: true, pollingInterval: 50 });
  return {
    devChain,
    url: devChain.url,
    provider,
    async deploy() {
      return (await deployRegistry(provider, DEV_DEPLOYER_KEY)).address;
    },
    rpc: (method, params = []) => provider.send(method, params),
    async close() {
      provider.destroy();
      await devChain.close();
    },
  };
}

/** The environment of one instance of a scaled deployment, as the issue gives it. */
export function clusterEnv(chainUrl: string, contract: string, extra: Record<string, string> = {}) {
  return {
    RPC_URL: chainUrl,
    ANCHOR_CONTRACT: contract,
    ANCHORER_PRIVATE_KEY: DEV_DEPLOYER_KEY,
    // One key for every instance of the deployment, as with a real one.
    SECRET_KEY: TEST_SECRET_KEY,
    CONFIRMATIONS: '1',
    LEADER_LEASE_MS: String(LEASE_MS),
    ...extra,
  };
}

/**
 * Replaces a harness's batcher with one whose chain is `chain` (a wrapper that injects a crash),
 * with its own lease, so the routes (kick, admin seal, /healthz) drive the replacement.
 */
export function replaceBatcher(
  h: Harness,
  chain: AnchorChain,
  opts: { holder: string; maxLeaves: number; maxAgeMs?: number; tickMs?: number },
): Batcher {
  const services = h.runtime.services;
  const batcher = new Batcher({
    ctx: services.ctx,
    chain,
    lease: new Lease(services.ctx.storage.leases, opts.holder, LEASE_MS),
    confirmations: 1,
    maxLeaves: opts.maxLeaves,
    maxAgeMs: opts.maxAgeMs ?? 3_600_000,
    tickMs: opts.tickMs ?? 50,
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
  });
  services.batcher = batcher;
  return batcher;
}

export interface Acknowledged {
  /** externalId -> record id, for every record a 2xx answered. */
  records: Map<string, string>;
  /** Lifecycle events a 201 answered: record id -> seqs. */
  events: Map<string, number[]>;
}

export function newAcknowledged(): Acknowledged {
  return { records: new Map(), events: new Map() };
}

export function noteRegistration(
  ack: Acknowledged,
  res: LightMyRequestResponse | { status: number; body: unknown },
) {
  const status = 'statusCode' in res ? res.statusCode : res.status;
  if (status !== 200 && status !== 201) return;
  const body = ('statusCode' in res ? res.json() : res.body) as {
    records: { id: string; externalId: string }[];
  };
  for (const r of body.records) {
    const known = ack.records.get(r.externalId);
    if (known !== undefined && known !== r.id) throw new Error(`externalId ${r.externalId} got two ids`);
    ack.records.set(r.externalId, r.id);
  }
}

export function noteEvent(ack: Acknowledged, recordId: string, seq: number) {
  const seqs = ack.events.get(recordId) ?? [];
  seqs.push(seq);
  ack.events.set(recordId, seqs);
}

/**
 * The headline invariants, checked against the database and the chain's own logs:
 * every acknowledged record and event sits in exactly one batch, every batch is final, each batch id
 * is anchored exactly once on chain with the stored root, and the contract's next id follows the last.
 */
export async function checkAnchoredExactlyOnce(
  db: Kysely<Database>,
  chainUrl: string,
  contract: string,
  ack: Acknowledged,
): Promise<{ batches: number; leaves: number; anchorTx: Map<number, string> }> {
  const batches = await db.selectFrom('batches').selectAll().orderBy('id').execute();
  expect(batches.length).toBeGreaterThan(0);
  expect(batches.map((b) => b.id)).toEqual(batches.map((_, i) => i + 1));
  for (const b of batches) {
    expect(b.status, `batch ${b.id}`).toBe('final');
    expect(b.chain_root).toBe(b.root);
  }

  // No event is left out of a batch, and each batch holds exactly its leaf_count events.
  const unbatched = await db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('batch_id', 'is', null)
    .executeTakeFirstOrThrow();
  expect(Number(unbatched.n)).toBe(0);
  const perBatch = await db
    .selectFrom('events')
    .select(['batch_id', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.max('leaf_index').as('max')])
    .groupBy('batch_id')
    .orderBy('batch_id')
    .execute();
  expect(perBatch.map((r) => [r.batch_id, Number(r.n), Number(r.max)])).toEqual(
    batches.map((b) => [b.id, b.leaf_count, b.leaf_count - 1]),
  );

  // Every acknowledged record: exactly one issuance event, in a final batch.
  const ids = [...ack.records.values()];
  const issuance = new Map<string, { batch_id: number | null; n: number }>();
  for (let i = 0; i < ids.length; i += 1000) {
    const rows = await db
      .selectFrom('events')
      .select(['record_id', 'batch_id'])
      .where('seq', '=', 0)
      .where('record_id', 'in', ids.slice(i, i + 1000))
      .execute();
    for (const r of rows) {
      const seen = issuance.get(r.record_id);
      issuance.set(r.record_id, { batch_id: r.batch_id, n: (seen?.n ?? 0) + 1 });
    }
  }
  const finalIds = new Set(batches.map((b) => b.id));
  for (const id of ids) {
    const row = issuance.get(id);
    expect(row, `record ${id} has no issuance event`).toBeDefined();
    expect(row!.n).toBe(1);
    expect(finalIds.has(row!.batch_id!), `record ${id} batch ${row!.batch_id}`).toBe(true);
  }
  // Every acknowledged lifecycle event is stored at the seq it was acknowledged with, batched.
  for (const [recordId, seqs] of ack.events) {
    const rows = await db
      .selectFrom('events')
      .select(['seq', 'batch_id'])
      .where('record_id', '=', recordId)
      .where('seq', '>', 0)
      .orderBy('seq')
      .execute();
    expect(rows.map((r) => r.seq)).toEqual([...seqs].sort((a, b) => a - b));
    for (const r of rows) expect(finalIds.has(r.batch_id!)).toBe(true);
  }

  // The chain's own record: each batch id anchored exactly once, with the stored root and count.
  const chain = await connectRegistry({ rpcUrl: chainUrl, contract });
  try {
    const head = await chain.headNumber();
    const logs = await chain.anchorEvents(0, head);
    expect(logs.map((l) => l.batchId).sort((a, b) => a - b)).toEqual(batches.map((b) => b.id));
    const anchorTx = new Map<number, string>();
    for (const log of logs) {
      const b = batches.find((x) => x.id === log.batchId)!;
      expect(log.root).toBe(b.root);
      expect(log.leafCount).toBe(b.leaf_count);
      expect(log.txHash).toBe(b.tx_hash);
      anchorTx.set(log.batchId, log.txHash);
    }
    expect((await chain.nextBatchId()) - 1).toBe(batches.length);
    return { batches: batches.length, leaves: batches.reduce((a, b) => a + b.leaf_count, 0), anchorTx };
  } finally {
    chain.close();
  }
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]!();
      }
    }),
  );
  return out;
}
