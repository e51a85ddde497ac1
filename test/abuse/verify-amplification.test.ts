/**
 * Issue 13, attack 6: POST /v1/verify amplified RPC calls. The log scan started from the bundle's
 * own anchor.blockNumber, which the caller writes: a bogus value made one request walk the chain in
 * 5,000-block windows (about 200 eth_getLogs on a 1M-block chain). Replayed on a real Hardhat chain
 * 1,000,000 blocks past the anchor, through an RPC proxy that counts every call per method: forged
 * bundles (blockNumber bogus, far in the future, 0, the largest integer; a batch id never anchored)
 * sent to POST /v1/verify over a socket and to `proofmark verify`, each making at most
 * MAX_RPC_CALLS_PER_BUNDLE calls. For comparison, the scan such a bundle used to start is measured
 * through the same proxy.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RPC_CALLS_PER_BUNDLE } from '../../src/chain/bundle-check.ts';
import { connectRegistry } from '../../src/chain/registry.ts';
import type { ProofBundleV1 } from '../../src/core/index.ts';
import { runCli } from '../cli/helpers.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';
import { startRpcProxy, type RpcProxy } from '../helpers/rpc-proxy.ts';
import { clusterEnv, startSharedChain, type SharedChain } from '../scale/cluster.ts';

const BLOCKS_AFTER = 1_000_000;

let shared: SharedChain;
let proxy: RpcProxy;
let h: Harness;
let base: string;
let contract: string;
let honest: ProofBundleV1;
let dir: string;

beforeAll(async () => {
  shared = await startSharedChain();
  contract = await shared.deploy();
  proxy = await startRpcProxy(shared.url);
  h = await startHarness({ env: clusterEnv(proxy.url, contract) });
  const { apiKey } = await h.verifiedMerchant('Amplified Shop');
  const res = await h.call('POST', '/v1/records', {
    token: apiKey,
    body: { records: [recordBody('amp-1')] },
  });
  const id = res.json().records[0].id as string;
  await h.sealAndWaitFinal();
  honest = (await h.call('GET', `/v1/records/${id}/proofs`)).json().bundles[0];
  // From here only the requests below reach the RPC.
  await h.runtime.services.batcher.stop();
  await shared.rpc('hardhat_mine', [`0x${BLOCKS_AFTER.toString(16)}`]);
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'proofmark-amplification-'));
}, 180_000);
afterAll(async () => {
  await h?.close();
  await proxy?.close();
  await shared?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The honest bundle with `change` applied. */
function forged(change: (b: ProofBundleV1) => void): ProofBundleV1 {
  const bundle = structuredClone(honest);
  change(bundle);
  return bundle;
}

/** The RPC calls `work` made, per method and in all. */
async function rpcCalls(
  work: () => Promise<unknown>,
): Promise<{ total: number; byMethod: Record<string, number> }> {
  const before = proxy.counts();
  await work();
  const byMethod: Record<string, number> = {};
  for (const [method, n] of Object.entries(proxy.counts())) {
    if (n > (before[method] ?? 0)) byMethod[method] = n - (before[method] ?? 0);
  }
  return { total: Object.values(byMethod).reduce((a, b) => a + b, 0), byMethod };
}

describe('RPC calls per verification, on a chain 1,000,000 blocks past the anchor (issue 13, attack 6)', () => {
  const cases = (head: number): Array<[string, ProofBundleV1, { valid: boolean; failure?: string }]> => [
    ['honest', honest, { valid: true }],
    ['blockNumber one before the anchor', forged((b) => (b.anchor.blockNumber! -= 1)), { valid: true }],
    [
      'blockNumber in the middle of the chain',
      forged((b) => (b.anchor.blockNumber = Math.floor(head / 2))),
      { valid: true },
    ],
    [
      'blockNumber far in the future',
      forged((b) => (b.anchor.blockNumber = head + 1_000_000)),
      { valid: true },
    ],
    ['blockNumber 0', forged((b) => (b.anchor.blockNumber = 0)), { valid: true }],
    [
      'blockNumber the largest integer',
      forged((b) => (b.anchor.blockNumber = Number.MAX_SAFE_INTEGER)),
      { valid: true },
    ],
    [
      'a batch id never anchored',
      forged((b) => (b.batchId = 999_999)),
      { valid: false, failure: 'root_not_on_chain' },
    ],
  ];

  it('POST /v1/verify: at most MAX_RPC_CALLS_PER_BUNDLE calls whatever the bundle claims', async () => {
    const head = await shared.provider.getBlockNumber();
    const figures: Record<string, unknown> = {};
    for (const [what, bundle, expected] of cases(head)) {
      let answer: { valid: boolean; failure?: string; confirmations?: number } | undefined;
      const calls = await rpcCalls(async () => {
        const res = await fetch(`${base}/v1/verify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(bundle),
        });
        expect(res.status, what).toBe(200);
        answer = (await res.json()) as typeof answer;
      });
      expect(answer, what).toMatchObject(expected);
      expect(calls.total, `${what}: ${JSON.stringify(calls.byMethod)}`).toBeLessThanOrEqual(
        MAX_RPC_CALLS_PER_BUNDLE,
      );
      figures[what] = { calls: calls.total, ...calls.byMethod, confirmations: answer!.confirmations ?? null };
    }
    // The honest bundle's block checks out: its depth is exact.
    expect((figures.honest as { confirmations: number }).confirmations).toBe(
      head - honest.anchor.blockNumber! + 1,
    );

    // What the forged hint used to cost: the scan it started, through the same proxy.
    const chain = await connectRegistry({ rpcUrl: proxy.url, contract });
    try {
      const scan = await rpcCalls(() => chain.findAnchor(honest.batchId!, Math.floor(head / 2)));
      figures['before: the scan a hint in the middle started'] = { calls: scan.total, ...scan.byMethod };
      expect(scan.total).toBeGreaterThan(50);
    } finally {
      chain.close();
    }
    console.log(`RPC calls per POST /v1/verify (chain head ${head}):`, JSON.stringify(figures, null, 1));
  }, 120_000);

  it('proofmark verify: the same bound per bundle, plus connecting (chain id and contract code)', async () => {
    const head = await shared.provider.getBlockNumber();
    const figures: Record<string, unknown> = {};
    for (const [what, bundle, expected] of cases(head)) {
      const file = join(dir, `${what.replace(/\W+/g, '-')}.json`);
      writeFileSync(file, JSON.stringify(bundle));
      let code = -1;
      const calls = await rpcCalls(async () => {
        ({ code } = await runCli(['verify', file, '--rpc', proxy.url, '--contract', contract]));
      });
      expect(code, what).toBe(expected.valid ? 0 : 1);
      const connecting = (calls.byMethod.eth_chainId ?? 0) + (calls.byMethod.eth_getCode ?? 0);
      expect(calls.total - connecting, `${what}: ${JSON.stringify(calls.byMethod)}`).toBeLessThanOrEqual(
        MAX_RPC_CALLS_PER_BUNDLE,
      );
      // Connecting asks the chain id (ethers asks more than once) and the contract's code.
      expect(connecting, `${what}: ${JSON.stringify(calls.byMethod)}`).toBeLessThanOrEqual(4);
      figures[what] = { calls: calls.total, ...calls.byMethod };
    }
    console.log(`RPC calls per proofmark verify (chain head ${head}):`, JSON.stringify(figures, null, 1));
  }, 180_000);
});
