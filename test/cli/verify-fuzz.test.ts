/**
 * `proofmark verify <file> --rpc <url>` (a child process, a real Hardhat chain with a registry and an
 * anchored batch) against hostile files: broken JSON, binary garbage, an empty file, 10 MB files, deep
 * nesting, documents of the wrong shape, terminal escapes in a record id, and forgeries of a real bundle
 * chosen by fast-check (test/helpers/forged-bundles.ts, only those the proof commits to). Each exits 1
 * with one printable line on stderr, nothing on stdout, no stack trace and no hang (runCli gives up,
 * failing the test, after 60 s). Child processes take a second or more each: a handful of fixed cases
 * and a few generated ones.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonRpcProvider } from 'ethers';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProofBundleV1 } from '../../src/core/index.ts';
import { deployRegistry } from '../../src/chain/deploy.ts';
import { DEV_DEPLOYER_KEY, startDevChain, type DevChain } from '../../src/chain/dev-chain.ts';
import { expectedVerdict, forge, forgeryOf } from '../helpers/forged-bundles.ts';
import { DEEP } from '../helpers/hostile.ts';
import {
  anchorBatch,
  bundleFor,
  expectOneLineError,
  makeEvents,
  provider,
  runCli,
  type AnchoredBatch,
  type CliResult,
} from './helpers.ts';

const numRuns = Number(process.env.FC_NUM_RUNS_CLI ?? (process.env.CI ? 30 : 10));

let chain: DevChain;
let rpc: JsonRpcProvider;
let contract: string;
let batch: AnchoredBatch;
let dir: string;
let files = 0;

beforeAll(async () => {
  chain = await startDevChain({ port: 0 });
  rpc = provider(chain.url);
  contract = (await deployRegistry(rpc, DEV_DEPLOYER_KEY)).address;
  batch = await anchorBatch(rpc, DEV_DEPLOYER_KEY, contract, 1, makeEvents('fuzz'));
  dir = await mkdtemp(join(tmpdir(), 'proofmark-cli-fuzz-'));
});

afterAll(async () => {
  rpc?.destroy();
  await chain?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The card's `sold` event: seq 1, chained, with a proof of three nodes. */
const realBundle = (): ProofBundleV1 => bundleFor(batch, 1, chain.chainId, contract);

async function verifyFile(contents: Buffer | string): Promise<CliResult> {
  const path = join(dir, `hostile-${files++}.json`);
  await writeFile(path, contents);
  return runCli(['verify', path, '--rpc', chain.url]);
}

/** Refused in one printable line: exit 1, nothing on stdout, no stack, no control characters. */
function expectRefused(result: CliResult, pattern: RegExp, what: string): void {
  expectOneLineError(result, pattern);
  expect(result.stdout, what).toBe('');
  expect(result.stderr.trimEnd(), what).not.toMatch(/\p{Cc}/u);
}

describe('proofmark verify with hostile files', () => {
  it('verifies the real bundle the forgeries start from', async () => {
    const result = await verifyFile(JSON.stringify(realBundle()));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^verified: record fuzz-card seq 1: batch 1, /);
  });

  const deepArrays = `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`;
  const fixed: Array<[string, () => Buffer | string, RegExp]> = [
    ['broken JSON', () => '{"format": "proofmark.bundle.v1", ', /is not valid JSON/],
    [
      'binary garbage',
      () => Buffer.concat([Buffer.from([0, 0xff, 0xfe, 0x1b, 0x0d]), randomBytes(4096)]),
      /is not valid UTF-8/,
    ],
    ['an empty file', () => '', /is not valid JSON/],
    [
      'UTF-16 with a byte order mark',
      () => Buffer.from(`\ufeff${JSON.stringify(realBundle())}`, 'utf16le'),
      /is not valid UTF-8/,
    ],
    [
      'Latin-1 text (would read as U+FFFD)',
      () => Buffer.from(JSON.stringify({ ...realBundle(), recordId: 'caf\u00e9' }), 'latin1'),
      /is not valid UTF-8/,
    ],
    ['10 MB of garbage', () => Buffer.alloc(10 * 1024 * 1024, 'x'), /is not valid JSON/],
    [
      'a 10 MB content member',
      () =>
        JSON.stringify({
          ...realBundle(),
          content: { ...realBundle().content, note: 'x'.repeat(10 * 1024 * 1024) },
        }),
      /^error: leaf mismatch: record fuzz-card seq 1: /,
    ],
    [`${DEEP} nested arrays`, () => deepArrays, /^error: malformed bundle: bundle is not a JSON object$/],
    [
      `content nested ${DEEP} levels`,
      () =>
        JSON.stringify({ ...realBundle(), content: { ...realBundle().content, note: 'X' } }).replace(
          '"X"',
          deepArrays,
        ),
      /^error: (leaf mismatch|malformed bundle): record fuzz-card seq 1: /,
    ],
    ['null', () => 'null', /^error: malformed bundle: bundle is not a JSON object$/],
    ['a string', () => '"proofmark.bundle.v1"', /^error: malformed bundle: /],
    ['no bundles', () => '[]', /holds no bundles$/],
    ['a proofs document with no bundles', () => '{"recordId": "x", "bundles": []}', /holds no bundles$/],
    [
      '10,000 bundles, the first malformed',
      () => JSON.stringify([{ format: 'other' }, ...Array.from({ length: 9_999 }, () => realBundle())]),
      /^error: malformed bundle: bundle 1 of 10000: format must be/,
    ],
    [
      'terminal escapes in the record id',
      () =>
        JSON.stringify({ ...realBundle(), recordId: 'x\r\u001b[2Kverified: record x seq 1\u001b[8m\u202e' }),
      /^error: leaf mismatch: record x\\u000d\\u001b\[2Kverified: record x seq 1\\u001b\[8m\\u202e seq 1: /,
    ],
    ['terminal escapes in broken JSON', () => '{"a": 1, \u001b[2K\r\nverified', /is not valid JSON/],
  ];
  it.each(fixed)('refuses %s in one line', async (what, contents, pattern) => {
    expectRefused(await verifyFile(contents()), pattern, what);
  });

  it(
    `refuses forgeries of what the proof commits to (${numRuns} generated)`,
    async () => {
      const bundle = realBundle();
      await fc.assert(
        fc.asyncProperty(
          forgeryOf(bundle, [501, 100_000]).filter((f) => expectedVerdict(bundle, f) === 'invalid'),
          async (forgery) => {
            const result = await verifyFile(forge(bundle, forgery));
            expectRefused(result, /^error: /, forgery.kind);
          },
        ),
        { numRuns },
      );
      // Each run is a child process: up to about 2 s each on a loaded 2-core machine.
    },
    30_000 + numRuns * 5_000,
  );
});
