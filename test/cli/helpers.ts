/** Shared by the CLI tests: run `bin/proofmark.js` as a child process, build and anchor real batches. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Contract, JsonRpcProvider, Wallet } from 'ethers';
import { expect } from 'vitest';
import {
  BUNDLE_FORMAT_V1,
  bytesToHex,
  eventLeaf,
  MerkleTree,
  ZERO32,
  type Hex,
  type ProofBundleV1,
} from '../../src/core/index.ts';
import { registryAbi } from '../../src/chain/registry.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI entry point with a clean environment (no admin token or keys leak in). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
    if (process.env[name] !== undefined) base[name] = process.env[name]!;
  }
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['bin/proofmark.js', ...args],
      { cwd: REPO_ROOT, timeout: 60_000, env: { ...base, NO_COLOR: '1', ...env } },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          reject(new Error(`proofmark ${args.join(' ')} did not exit normally: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

export interface TestEvent {
  recordId: string;
  seq: number;
  prevLeaf: Hex;
  content: Record<string, unknown>;
}

export interface AnchoredBatch {
  batchId: number;
  events: TestEvent[];
  leaves: Hex[];
  tree: MerkleTree;
  txHash: Hex;
  blockNumber: number;
}

const salt = (): Hex => bytesToHex(randomBytes(32));

/** Lifecycle events of a few records, chained as the service chains them (seq 0 has a zero prevLeaf). */
export function makeEvents(prefix: string): TestEvent[] {
  const histories: Array<[string, string[]]> = [
    [`${prefix}-card`, ['issued', 'sold', 'activated']],
    [`${prefix}-licence`, ['issued', 'sold']],
    [`${prefix}-account`, ['issued']],
  ];
  const events: TestEvent[] = [];
  for (const [recordId, types] of histories) {
    let prevLeaf = ZERO32;
    types.forEach((type, seq) => {
      const content = {
        type,
        productName: '原神 创世结晶 6480',
        at: '2026-01-01T00:00:00.000Z',
        salt: salt(),
      };
      const event = { recordId, seq, prevLeaf, content };
      events.push(event);
      prevLeaf = eventLeaf(event);
    });
  }
  return events;
}

export function provider(url: string): JsonRpcProvider {
  return new JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
}

/** Anchors the tree of `events` as batch `batchId` through the contract itself. */
export async function anchorBatch(
  rpc: JsonRpcProvider,
  key: string,
  contract: string,
  batchId: number,
  events: TestEvent[],
): Promise<AnchoredBatch> {
  const leaves = events.map((e) => eventLeaf(e));
  const tree = MerkleTree.fromLeaves(leaves);
  const registry = new Contract(contract, registryAbi, new Wallet(key, rpc));
  const tx = await registry.getFunction('anchor')(batchId, tree.root, leaves.length);
  const receipt = await tx.wait();
  return { batchId, events, leaves, tree, txHash: tx.hash as Hex, blockNumber: receipt!.blockNumber };
}

export function bundleFor(
  batch: AnchoredBatch,
  index: number,
  chainId: number,
  contract: string,
): ProofBundleV1 {
  // A deep copy: tests tamper with what they get.
  const event = structuredClone(batch.events[index]!);
  return {
    format: BUNDLE_FORMAT_V1,
    recordId: event.recordId,
    seq: event.seq,
    prevLeaf: event.prevLeaf,
    content: event.content,
    leaf: batch.leaves[index]!,
    proof: batch.tree.proof(index),
    root: batch.tree.root,
    batchId: batch.batchId,
    anchor: {
      chainId,
      contract: contract.toLowerCase() as Hex,
      txHash: batch.txHash,
      blockNumber: batch.blockNumber,
      status: 'anchored',
    },
  };
}

/** No stack frames: an error is one line unless --verbose. */
export function expectOneLineError(result: CliResult, pattern: RegExp, code = 1): void {
  expect(result.code, result.stdout + result.stderr).toBe(code);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/^error: /);
  expect(result.stderr.trimEnd()).toMatch(pattern);
}
