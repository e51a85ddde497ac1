/**
 * `proofmark audit` against a real Hardhat chain with batches anchored through the contract.
 *
 * The service side is a tiny node:http fake of exactly two routes, GET /v1/batches and
 * GET /v1/batches/:id/leaves, built from the same leaves that were anchored, so that each test can
 * make the service disagree with the chain. The real service's routes are tested in the service's
 * own tests; here only the CLI's reading and comparing is under test.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JsonRpcProvider } from 'ethers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hexToBytes } from '../../src/core/index.ts';
import { deployRegistry } from '../../src/chain/deploy.ts';
import { DEV_DEPLOYER_KEY, startDevChain, type DevChain } from '../../src/chain/dev-chain.ts';
import {
  anchorBatch,
  expectOneLineError,
  makeEvents,
  provider,
  runCli,
  type AnchoredBatch,
} from './helpers.ts';

interface FakeBatch {
  id: number;
  root: string;
  leafCount: number;
  status: string;
  txHash: string | null;
  blockNumber: number | null;
}

let chain: DevChain;
let rpc: JsonRpcProvider;
let contract: string;
let anchored: AnchoredBatch[];
let server: Server;
let api: string;
/** What the fake service publishes; each test starts from a copy of the truth. */
let listed: FakeBatch[];
let leaves: Map<number, Buffer>;

beforeAll(async () => {
  chain = await startDevChain({ port: 0 });
  rpc = provider(chain.url);
  contract = (await deployRegistry(rpc, DEV_DEPLOYER_KEY)).address;
  anchored = [
    await anchorBatch(rpc, DEV_DEPLOYER_KEY, contract, 1, makeEvents('one')),
    await anchorBatch(rpc, DEV_DEPLOYER_KEY, contract, 2, makeEvents('two').slice(0, 5)),
  ];
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const leavesMatch = /^\/v1\/batches\/(\d+)\/leaves$/.exec(url.pathname);
    if (url.pathname === '/v1/batches') {
      // One batch a page, so that the CLI has to follow `next`.
      const after = Number(url.searchParams.get('after') ?? 0);
      const page = listed.filter((b) => b.id > after).slice(0, 1);
      const more = listed.some((b) => b.id > (page[0]?.id ?? Infinity));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ batches: page, next: more ? page[0]!.id : null }));
    } else if (leavesMatch && leaves.has(Number(leavesMatch[1]))) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(leaves.get(Number(leavesMatch[1])));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          statusCode: 404,
          error: 'Not Found',
          message: 'no such batch',
          code: 'batch_not_found',
        }),
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  rpc?.destroy();
  await chain?.close();
});

beforeEach(() => {
  listed = anchored.map((b) => ({
    id: b.batchId,
    root: b.tree.root,
    leafCount: b.leaves.length,
    status: 'final',
    txHash: b.txHash,
    blockNumber: b.blockNumber,
  }));
  leaves = new Map(anchored.map((b) => [b.batchId, Buffer.concat(b.leaves.map((l) => hexToBytes(l)))]));
});

const audit = (...extra: string[]) =>
  runCli(['audit', '--api', api, '--rpc', chain.url, '--contract', contract, ...extra]);

interface Report {
  ok: boolean;
  batchesOnChain: number;
  batchesAtService: number;
  rootsMatched: number;
  missingAtService: number[];
  missingOnChain: Array<{ batchId: number; status: string }>;
  mismatches: Array<{ batchId: number; field: string; chain: unknown; service: unknown }>;
  gaps: number[];
}

describe('proofmark audit', () => {
  it('exits 0 when every anchored root is rebuilt from the service leaves', async () => {
    const result = await audit();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('batches on chain:    2');
    expect(result.stdout).toContain('ok: every anchored batch matches the service');

    const json = await audit('--json');
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as Report;
    expect(report).toMatchObject({
      ok: true,
      batchesOnChain: 2,
      batchesAtService: 2,
      rootsMatched: 2,
      missingAtService: [],
      missingOnChain: [],
      mismatches: [],
      gaps: [],
    });
  });

  it('reports a root mismatch when the service serves an altered leaf', async () => {
    const altered = Buffer.from(leaves.get(1)!);
    altered[40]! ^= 0xff; // a byte of leaf 1
    leaves.set(1, altered);

    const result = await audit();
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /batch 1: root mismatch: on chain 0x[0-9a-f]{64}, rebuilt from the service leaves 0x/,
    );
    expectOneLineError(result, /^error: audit found 1 problem$/);

    const report = JSON.parse((await audit('--json')).stdout) as Report;
    expect(report.ok).toBe(false);
    expect(report.rootsMatched).toBe(1);
    expect(report.mismatches).toEqual([
      {
        batchId: 1,
        field: 'root',
        chain: anchored[0]!.tree.root,
        service: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      },
    ]);
  });

  it('reports a leaf count mismatch when the service drops a leaf', async () => {
    leaves.set(2, leaves.get(2)!.subarray(0, 4 * 32));
    const report = JSON.parse((await audit('--json')).stdout) as Report;
    expect(report.mismatches).toEqual([
      { batchId: 2, field: 'leafCount', chain: 5, service: 4 },
      { batchId: 2, field: 'root', chain: anchored[1]!.tree.root, service: expect.any(String) },
    ]);
  });

  it('reports batches missing at the service and batches missing on chain', async () => {
    leaves.delete(2);
    listed = listed.filter((b) => b.id !== 2);
    listed.push({
      id: 3,
      root: `0x${'ab'.repeat(32)}`,
      leafCount: 7,
      status: 'final',
      txHash: null,
      blockNumber: 99,
    });
    listed.push({
      id: 4,
      root: `0x${'cd'.repeat(32)}`,
      leafCount: 1,
      status: 'sealed',
      txHash: null,
      blockNumber: null,
    });

    const result = await audit();
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('batch 2: missing at the service');
    expect(result.stdout).toContain('batch 3: missing on chain (final at the service)');
    expect(result.stdout).not.toContain('batch 4'); // sealed, not yet anchored: nothing to find on chain
    expectOneLineError(result, /^error: audit found 2 problems$/);

    const report = JSON.parse((await audit('--json')).stdout) as Report;
    expect(report.missingAtService).toEqual([2]);
    expect(report.missingOnChain).toEqual([{ batchId: 3, status: 'final' }]);
  });

  it('does not call batches anchored before --from-block missing', async () => {
    const from = String((await rpc.getBlockNumber()) + 1);
    const report = JSON.parse((await audit('--json', '--from-block', from)).stdout) as Report;
    expect(report).toMatchObject({
      ok: true,
      batchesOnChain: 0,
      batchesAtService: 2,
      missingOnChain: [],
      gaps: [],
    });
  });

  it('fails in one line when the service cannot be reached', async () => {
    const result = await runCli([
      'audit',
      '--api',
      'http://127.0.0.1:9',
      '--rpc',
      chain.url,
      '--contract',
      contract,
    ]);
    expectOneLineError(result, /^error: cannot reach http:\/\/127\.0\.0\.1:9 /);
  });
});
