/**
 * `proofmark` as a user runs it: a child process (`node bin/proofmark.js`) against a real Hardhat
 * JSON-RPC chain started here, with a registry deployed and batches anchored through the contract.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Contract, Wallet, type JsonRpcProvider } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex, type ProofBundleV1 } from '../../src/core/index.ts';
import { ANCHORER_ROLE, deployRegistry } from '../../src/chain/deploy.ts';
import { DEV_DEPLOYER_KEY, startDevChain, type DevChain } from '../../src/chain/dev-chain.ts';
import { registryAbi } from '../../src/chain/registry.ts';
import {
  anchorBatch,
  bundleFor,
  expectOneLineError,
  makeEvents,
  provider,
  runCli,
  type AnchoredBatch,
} from './helpers.ts';

let chain: DevChain;
let rpc: JsonRpcProvider;
let contract: string;
let batch1: AnchoredBatch;
let batch2: AnchoredBatch;
let dir: string;

beforeAll(async () => {
  chain = await startDevChain({ port: 0 });
  rpc = provider(chain.url);
  contract = (await deployRegistry(rpc, DEV_DEPLOYER_KEY)).address;
  batch1 = await anchorBatch(rpc, DEV_DEPLOYER_KEY, contract, 1, makeEvents('a'));
  batch2 = await anchorBatch(rpc, DEV_DEPLOYER_KEY, contract, 2, makeEvents('b'));
  dir = await mkdtemp(join(tmpdir(), 'proofmark-cli-'));
});

afterAll(async () => {
  rpc?.destroy();
  await chain?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A valid bundle of batch 1 (the card's `sold` event, leaf 1 of 6). */
const goodBundle = (): ProofBundleV1 => bundleFor(batch1, 1, chain.chainId, contract);

async function writeBundle(name: string, bundle: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof bundle === 'string' ? bundle : JSON.stringify(bundle, null, 2));
  return path;
}

const randomHex32 = () => bytesToHex(crypto.getRandomValues(new Uint8Array(32)));

describe('proofmark --help', () => {
  it('lists every command and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const command of ['serve', 'verify', 'audit', 'deploy', 'merchant', 'demo']) {
      expect(result.stdout).toContain(command);
    }
  });

  it('explains a command', async () => {
    const result = await runCli(['merchant', 'verify', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--evidence <description=sha256hex>');
  });

  it('exits 2 with one line on a usage error', async () => {
    expectOneLineError(await runCli(['verify']), /missing required argument 'bundle'/, 2);
    expectOneLineError(await runCli(['verify', 'x.json', '--confirmations', 'none']), /--confirmations/, 2);
  });
});

describe('proofmark deploy', () => {
  it('deploys a registry, grants ANCHORER_ROLE, and ends stdout with the JSON line', async () => {
    const anchorer = Wallet.createRandom().address;
    const result = await runCli(['deploy', '--rpc', chain.url, '--anchorer', anchorer, '--json'], {
      DEPLOYER_PRIVATE_KEY: DEV_DEPLOYER_KEY,
    });
    expect(result.code, result.stderr).toBe(0);
    const last = result.stdout.trimEnd().split('\n').at(-1)!;
    const deployed = JSON.parse(last) as { address: string; chainId: number; txHash: string };
    expect(Object.keys(deployed)).toEqual(['address', 'chainId', 'txHash']);
    expect(deployed.chainId).toBe(chain.chainId);
    expect(deployed.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await rpc.getCode(deployed.address)).not.toBe('0x');
    const registry = new Contract(deployed.address, registryAbi, rpc);
    expect(await registry.getFunction('hasRole')(ANCHORER_ROLE, anchorer)).toBe(true);
    // The key is never printed, not even without its 0x.
    expect(result.stdout + result.stderr).not.toContain(DEV_DEPLOYER_KEY.slice(2));
  });

  it('fails in one line without a key', async () => {
    expectOneLineError(await runCli(['deploy', '--rpc', chain.url]), /no deployer key/);
  });

  it('does not echo a malformed key', async () => {
    const result = await runCli(['deploy', '--rpc', chain.url, '--key', 'not-a-key-secret-value']);
    expectOneLineError(result, /deployer key must be 32 bytes of hex/);
    expect(result.stderr).not.toContain('not-a-key-secret-value');
  });
});

describe('proofmark verify', () => {
  it('exits 0 for an anchored bundle and says where it is anchored', async () => {
    const file = await writeBundle('good.json', goodBundle());
    const result = await runCli(['verify', file, '--rpc', chain.url]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^verified: record a-card seq 1: batch 1, block ${batch1.blockNumber}, \\d+ confirmations? `,
      ),
    );
    expect(result.stderr).toBe('');
  });

  it('exits 0 with --contract naming the registry the bundle names', async () => {
    const file = await writeBundle('good-pinned.json', goodBundle());
    const pinned = goodBundle().anchor.contract.toUpperCase().replace('0X', '0x');
    const result = await runCli(['verify', file, '--rpc', chain.url, '--contract', pinned]);
    expect(result.code, result.stderr).toBe(0);
  });

  it('does not call a bundle verified without the chain step', async () => {
    const file = await writeBundle('good-offline.json', goodBundle());
    expectOneLineError(
      await runCli(['verify', file]),
      new RegExp(`chain step not done: pure checks passed.*--rpc URL for chain ${chain.chainId}`),
    );
  });

  const tampered: Array<[string, (b: ProofBundleV1) => void, RegExp, string[]?]> = [
    [
      'content changed',
      (b) => void (b.content.productName = 'Windows 11 Pro'),
      /^error: leaf mismatch: record a-card seq 1: /,
    ],
    ['proof changed', (b) => void (b.proof![0] = randomHex32()), /^error: proof does not reach root: /],
    [
      'another batch id',
      (b) => void (b.batchId = 2),
      /^error: root not on chain: .*batch 2 root on chain is 0x/,
    ],
    [
      'a batch never anchored',
      (b) => void (b.batchId = 9),
      /^error: root not on chain: .*batch 9 root on chain is 0x0{64}/,
    ],
    [
      'another contract',
      (b) => void (b.anchor.contract = `0x${'12'.repeat(20)}`),
      /^error: root not on chain: .*no contract at/,
    ],
    [
      'another chain id',
      (b) => void (b.anchor.chainId = 1),
      /^error: chain id mismatch: .*names chain 1, the RPC serves chain 31337/,
    ],
    ['too few confirmations', () => {}, /^error: not final: .*1000 required/, ['--confirmations', '1000']],
    [
      'not the trusted contract',
      () => {},
      /^error: contract mismatch: .*not the trusted 0x3434/,
      ['--contract', `0x${'34'.repeat(20)}`],
    ],
    [
      'pending',
      (b) => {
        Object.assign(b, { proof: null, root: null, batchId: null });
        Object.assign(b.anchor, { txHash: null, blockNumber: null, status: 'pending' });
      },
      /^error: pending: /,
    ],
    [
      'a malformed bundle',
      (b) => void (b.format = 'other' as never),
      /^error: malformed bundle: record a-card seq 1: format must be/,
    ],
  ];
  it.each(tampered)('fails in one line: %s', async (name, edit, pattern, extra = []) => {
    const bundle = goodBundle();
    edit(bundle);
    const file = await writeBundle(`${name.replace(/\W+/g, '-')}.json`, bundle);
    const result = await runCli(['verify', file, '--rpc', chain.url, ...extra]);
    expectOneLineError(result, pattern);
    expect(result.stdout).toBe('');
  });

  it('fails in one line on a file that is not JSON, and shows the stack only with --verbose', async () => {
    const file = await writeBundle('broken.json', '{"format": ');
    expectOneLineError(await runCli(['verify', file, '--rpc', chain.url]), /is not valid JSON/);
    const verbose = await runCli(['verify', file, '--rpc', chain.url, '--verbose']);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/^error: .*is not valid JSON/);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  it('fails in one line when the RPC is unreachable', async () => {
    const file = await writeBundle('good-norpc.json', goodBundle());
    expectOneLineError(await runCli(['verify', file, '--rpc', 'http://127.0.0.1:9']), /cannot reach RPC/);
  });

  describe('from a URL', () => {
    // A plain static HTTP server: the document has the shape of GET /v1/records/:id/proofs. The real
    // service's route is tested in the service's own tests; this checks only how the CLI reads it.
    let server: Server;
    let base: string;
    const documents = new Map<string, unknown>();

    beforeAll(async () => {
      server = createServer((req, res) => {
        const doc = documents.get(req.url ?? '');
        res.writeHead(doc ? 200 : 404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(
            doc ?? {
              statusCode: 404,
              error: 'Not Found',
              message: 'no such record',
              code: 'record_not_found',
            },
          ),
        );
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("verifies every bundle of a record's proofs", async () => {
      const bundles = [0, 1, 2].map((i) => bundleFor(batch2, i, chain.chainId, contract));
      documents.set('/v1/records/b-card/proofs', { recordId: 'b-card', bundles });
      const result = await runCli(['verify', `${base}/v1/records/b-card/proofs`, '--rpc', chain.url]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trimEnd().split('\n')).toEqual(
        [0, 1, 2].map((seq) =>
          expect.stringMatching(
            new RegExp(`^verified: record b-card seq ${seq}: batch 2, block ${batch2.blockNumber}, `),
          ),
        ),
      );
    });

    it('fails when any one bundle fails, naming it', async () => {
      const bundles = [0, 1, 2].map((i) => bundleFor(batch2, i, chain.chainId, contract));
      bundles[2]!.content.type = 'refunded';
      documents.set('/v1/records/b-card-bad/proofs', { recordId: 'b-card', bundles });
      const result = await runCli(['verify', `${base}/v1/records/b-card-bad/proofs`, '--rpc', chain.url]);
      expectOneLineError(result, /^error: leaf mismatch: record b-card seq 2: /);
    });

    it('passes on the service error message', async () => {
      expectOneLineError(
        await runCli(['verify', `${base}/v1/records/nope/proofs`, '--rpc', chain.url]),
        /^error: no such record \(record_not_found\)$/,
      );
    });
  });
});
