/**
 * The chain's RPC endpoint misbehaves, on the network: proofmark talks to a real Hardhat chain
 * through a proxy (test/helpers/rpc-proxy.ts) that goes down and comes back on the same port,
 * answers slowly, hangs, or errors as a load balancer or a rate-limited node would. Whatever the
 * RPC does, the service must: keep accepting records (201); say in words in GET /healthz what is
 * wrong; never call a record genuine unless its batch is final with the root on chain; resume
 * anchoring once the fault clears, within its backoff; and end with every acknowledged record in
 * exactly one final batch, each batch id anchored once on chain with the stored root. The batcher's
 * own failure handling is also tested at the AnchorChain interface (test/faults/anchorer.test.ts);
 * here the failures are real sockets, real HTTP answers and ethers' real error paths.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from '../../src/core/index.ts';
import { ChainProbe } from './faulty-chain.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { startRpcProxy, type RpcErrorKind, type RpcProxy } from '../helpers/rpc-proxy.ts';
import {
  checkAnchoredExactlyOnce,
  clusterEnv,
  newAcknowledged,
  noteRegistration,
  startSharedChain,
  type Acknowledged,
  type SharedChain,
} from '../scale/cluster.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

/** The harness's CHAIN_POLL_MS: the batcher's tick, and the base of its backoff (tick * 2^failures). */
const TICK_MS = 50;
const MAX_BACKOFF_MS = 30_000;
/** Room on top of the backoff for the remaining steps on a loaded 2-core machine. */
const RESUME_SLACK_MS = 30_000;

interface Rig {
  h: Harness;
  proxy: RpcProxy;
  contract: string;
  probe: ChainProbe;
  apiKey: string;
  ack: Acknowledged;
  registered: number;
}

let chain: SharedChain;
const rigs: Rig[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  chain = await startSharedChain();
});

afterEach(() => {
  // The service must never leave a promise rejection unhandled, whatever the RPC did.
  expect(unhandled).toEqual([]);
});

afterAll(async () => {
  for (const rig of rigs) {
    rig.probe.close();
    await rig.h.close();
    await rig.proxy.close();
  }
  await chain?.close();
  process.off('unhandledRejection', onUnhandled);
});

/** A proofmark instance whose RPC_URL is a proxy in front of the shared chain, on a fresh registry. */
async function startRig(env: Record<string, string> = {}): Promise<Rig> {
  const contract = await chain.deploy();
  const proxy = await startRpcProxy(chain.url);
  const h = await startHarness({ env: clusterEnv(proxy.url, contract, env) });
  const { apiKey } = await h.verifiedMerchant('RPC Faults Shop');
  const probe = new ChainProbe(chain.url, contract);
  const rig: Rig = { h, proxy, contract, probe, apiKey, ack: newAcknowledged(), registered: 0 };
  rigs.push(rig);
  return rig;
}

/** Registers `count` records; the API must answer 201 whatever the RPC is doing. */
async function register(rig: Rig, count: number): Promise<string[]> {
  const records = Array.from({ length: count }, () => recordBody(`rpc-${++rig.registered}`));
  const res = await rig.h.call('POST', '/v1/records', { token: rig.apiKey, body: { records } });
  expect(res.statusCode, `POST /v1/records while the RPC is ${rig.proxy.mode}: ${res.body}`).toBe(201);
  noteRegistration(rig.ack, res);
  return res.json().records.map((r: { id: string }) => r.id);
}

async function seal(rig: Rig): Promise<number[]> {
  const res = await rig.h.admin('POST', '/v1/admin/batches/seal');
  expect(res.statusCode).toBe(200);
  return res.json().batches.map((b: { id: number }) => b.id);
}

async function healthz(rig: Rig): Promise<{ status: string; lastBatcherError: string | null }> {
  const res = await rig.h.call('GET', '/healthz');
  expect(res.statusCode).toBe(200);
  return res.json();
}

/**
 * Waits until the batcher has failed a few times in a row and /healthz says why in words matching
 * `what`; returns the message.
 */
async function expectFaultReported(rig: Rig, what: RegExp, failures = 3): Promise<string> {
  const message = await waitFor(`/healthz to report ${what} (RPC ${rig.proxy.mode})`, async () => {
    const { lastBatcherError } = await healthz(rig);
    const status = rig.h.runtime.services.batcher.status;
    return status.consecutiveFailures >= failures && lastBatcherError !== null && what.test(lastBatcherError)
      ? lastBatcherError
      : null;
  });
  expect(message).not.toMatch(/undefined|\[object Object\]/);
  // Plain enough for an operator: no ethers payload dumps, no RPC URL (it may carry an API key).
  expect(message.length).toBeLessThan(300);
  expect(message).not.toContain(rig.proxy.url);
  return message;
}

/**
 * No verdict says genuine unless the issuance's batch is final and the chain itself (read directly,
 * not through the proxy) holds that batch's root; `pending` lists records that must not be genuine.
 */
async function expectVerdictsHonest(rig: Rig, pending: string[] = []): Promise<void> {
  const db = rig.h.runtime.storage.db;
  for (const id of rig.ack.records.values()) {
    const res = await rig.h.call('GET', `/v1/verify/${id}`);
    expect(res.statusCode).toBe(200);
    const { verdict } = res.json();
    if (pending.includes(id)) expect(verdict, `record ${id}`).toBe('pending');
    if (verdict !== 'genuine') continue;
    const batch = await db
      .selectFrom('events')
      .innerJoin('batches', 'batches.id', 'events.batch_id')
      .select(['batches.id', 'batches.status', 'batches.root'])
      .where('events.record_id', '=', id)
      .where('events.seq', '=', 0)
      .executeTakeFirstOrThrow();
    expect(batch.status, `record ${id} genuine in batch ${batch.id}`).toBe('final');
    expect(await rig.probe.rootOf(batch.id)).toBe(batch.root as Hex);
  }
}

/**
 * The fault has cleared: anchoring resumes within the batcher's current backoff plus slack, every
 * batch ends final, anchored once with its root, and /healthz is clear again.
 */
async function expectRecovery(rig: Rig, slackMs = RESUME_SLACK_MS): Promise<void> {
  const { consecutiveFailures } = rig.h.runtime.services.batcher.status;
  const bound = Math.min(MAX_BACKOFF_MS, TICK_MS * 2 ** consecutiveFailures) + slackMs;
  await rig.h.sealAndWaitFinal(bound);
  await checkAnchoredExactlyOnce(rig.h.runtime.storage.db, chain.url, rig.contract, rig.ack);
  await expectVerdictsHonest(rig);
  await waitFor(
    '/healthz to clear lastBatcherError',
    async () => (await healthz(rig)).lastBatcherError === null,
  );
}

function batchRow(rig: Rig, id: number) {
  return rig.h.runtime.storage.db
    .selectFrom('batches')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

describe('the RPC goes away and comes back on the same port', () => {
  it('down right after a batch is sealed: nothing is signed, the batch anchors once it is back', async () => {
    const rig = await startRig();
    const before = await register(rig, 5);
    await rig.proxy.down();
    expect(await seal(rig)).toEqual([1]);

    await expectFaultReported(rig, /^RPC unreachable: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    const during = await register(rig, 5);
    expect((await healthz(rig)).status).toBe('ok');
    await expectVerdictsHonest(rig, [...before, ...during]);
    expect((await batchRow(rig, 1)).status).toBe('sealed');
    expect(await rig.probe.nextBatchId()).toBe(1);

    await rig.proxy.up();
    await expectRecovery(rig);
    expect(rig.proxy.count('eth_sendRawTransaction')).toBe(2); // one per batch: nothing resent
  });

  it('down while the anchor transaction waits unmined, mined meanwhile: found by its saved hash', async () => {
    const rig = await startRig();
    const before = await register(rig, 5);
    await chain.rpc('evm_setAutomine', [false]);
    try {
      expect(await seal(rig)).toEqual([1]);
      const submitted = await waitFor('the anchor transaction to reach the node', async () => {
        const row = await batchRow(rig, 1);
        if (row.status !== 'submitted') return null;
        return (await chain.rpc('eth_getTransactionByHash', [row.tx_hash])) ? row : null;
      });
      expect(await rig.probe.nextBatchId()).toBe(1); // in the node's pool, not mined

      await rig.proxy.down();
      await chain.rpc('evm_mine');
      expect(await rig.probe.nextBatchId()).toBe(2); // on chain, but the service cannot see it
      await expectFaultReported(rig, /^RPC unreachable: /);
      const during = await register(rig, 5);
      await expectVerdictsHonest(rig, [...before, ...during]);
      expect((await batchRow(rig, 1)).status).toBe('submitted');

      await chain.rpc('evm_setAutomine', [true]);
      await rig.proxy.up();
      await expectRecovery(rig);
      const anchors = await rig.probe.anchorsOf(1);
      expect(anchors.map((a) => a.txHash)).toEqual([submitted.tx_hash]);
    } finally {
      await chain.rpc('evm_setAutomine', [true]);
    }
  });
});

describe('slow and hung answers', () => {
  it('every answer 1.5 s late (inside RPC_TIMEOUT_MS): anchoring completes without a failure', async () => {
    const rig = await startRig({ RPC_TIMEOUT_MS: '5000' });
    await rig.proxy.slow(1500);
    const first = await register(rig, 5);
    expect(await seal(rig)).toEqual([1]);
    const during = await register(rig, 5); // accepted while anchoring crawls
    await expectVerdictsHonest(rig, [...first, ...during]);

    // About ten calls a batch, each 1.5 s: two batches in well under two minutes.
    await expectRecovery(rig, 120_000);
    expect(rig.proxy.mode).toBe('slow(1500)');
    expect(rig.proxy.count('eth_sendRawTransaction')).toBe(2); // slowness caused no resend
    expect(rig.h.runtime.services.batcher.status.consecutiveFailures).toBe(0);
  }, 180_000);

  it('requests never answered: each fails after RPC_TIMEOUT_MS instead of stalling anchoring', async () => {
    const rig = await startRig({ RPC_TIMEOUT_MS: '1000' });
    const before = await register(rig, 5);
    const asked = () => Object.values(rig.proxy.counts()).reduce((n, c) => n + c, 0);
    await rig.proxy.hang();
    const askedBeforeHang = asked();
    expect(await seal(rig)).toEqual([1]);

    await expectFaultReported(rig, /^RPC request timed out after 1000 ms$/, 2);
    const during = await register(rig, 5);
    await expectVerdictsHonest(rig, [...before, ...during]);
    // Asked, held, timed out, asked again: the proxy held at least two requests. Which calls they
    // were (the anchorer's, the finality watch's, the balance's) depends on which ran first.
    expect(asked() - askedBeforeHang).toBeGreaterThanOrEqual(2);

    await rig.proxy.up();
    await expectRecovery(rig);
  });
});

describe('HTTP and JSON-RPC errors: back off, recover', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  });

  const cases: Array<{ kind: RpcErrorKind; says: RegExp }> = [
    { kind: 'http-502', says: /^RPC answered HTTP 502 Bad Gateway$/ },
    { kind: 'http-503', says: /^RPC answered HTTP 503 Service Unavailable$/ },
    { kind: 'rpc-rate-limited', says: /^RPC error -32005 on eth_\w+: rate limited: too many requests/ },
    { kind: 'rpc-internal', says: /^RPC error -32603 on eth_\w+: internal error$/ },
  ];

  it.each(cases)('$kind', async ({ kind, says }) => {
    const before = await register(rig, 3);
    await rig.proxy.error(kind);
    const [batchId] = await seal(rig);

    await expectFaultReported(rig, says);
    const during = await register(rig, 3);
    await expectVerdictsHonest(rig, [...before, ...during]);
    expect((await batchRow(rig, batchId!)).status).toBe('sealed');

    await rig.proxy.up();
    await expectRecovery(rig);
  });
});
