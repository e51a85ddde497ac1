/**
 * Freshness over real processes: `proofmark serve` with its embedded development chain, and
 * `proofmark verify --api` as a child process. A revoked licence's old issuance bundle reports
 * `superseded: revoked`; a service (here a proxy in front of the real one) that serves an older
 * proof, relabels it, or withholds it is caught: "could not confirm freshness", never current.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitMerchant } from '../../src/client/admit.ts';
import type { ApiClient } from '../../src/client/client.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { freePort } from '../helpers/net.ts';
import { recordBody } from '../helpers/records.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';
import { waitFor } from '../helpers/wait.ts';
import { runCli } from './helpers.ts';

const ADMIN_TOKEN = 'freshness-admin-token-0123456789abcdef';

let served: ServeProcess;
let api: ApiClient;
let rpc: string;
let dir: string;
let proxy: Server;
let proxyUrl: string;
/** What the proxy does to GET .../state-proof: pass it on, or answer for itself. */
let stateProofAnswer: ((url: string) => Promise<{ status: number; body: unknown }>) | null = null;

async function sealAndAnchor(expectedBatch: number): Promise<void> {
  await served.http('POST', '/v1/admin/batches/seal', ADMIN_TOKEN);
  await waitFor(
    `batch ${expectedBatch} anchored`,
    async () => {
      const { batches } = await api.batches();
      const batch = batches.find((b) => b.id === expectedBatch);
      return batch !== undefined && (batch.status === 'anchored' || batch.status === 'final');
    },
    60_000,
    100,
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'proofmark-freshness-'));
  const chainPort = await freePort();
  rpc = `http://127.0.0.1:${chainPort}`;
  served = await spawnServe({
    DATA_DIR: dir,
    DEV_CHAIN_PORT: String(chainPort),
    ADMIN_TOKEN,
    PUBLIC_BASE_URL: 'http://proofmark.test',
    BATCH_MAX_AGE_MS: '3600000', // nothing seals until the test asks
    CHAIN_POLL_MS: '50',
  });
  api = served.client();
  proxy = createServer((req, res) => {
    void (async () => {
      const url = req.url ?? '/';
      const own = url.includes('/state-proof') && stateProofAnswer ? await stateProofAnswer(url) : null;
      const answer = own ?? (await served.http('GET', url));
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    })();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await new Promise<void>((resolve) => proxy?.close(() => resolve()));
  await served?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('proofmark verify --api, against serve and its development chain', () => {
  it('current, then superseded: revoked; stale, relabelled and withheld proofs are caught', async () => {
    const { apiKey } = await admitMerchant(served.client(ADMIN_TOKEN), { name: 'Fresh Shop' }, TEST_EVIDENCE);
    const merchant = served.client(apiKey);
    const { records } = await merchant.registerRecords([recordBody('fresh-1'), recordBody('fresh-2')]);
    const [licence, other] = records.map((r) => r.id);
    await sealAndAnchor(1);

    const issuance = (await api.proofs(licence!)).bundles[0]!;
    const file = join(dir, 'issuance.json');
    writeFileSync(file, JSON.stringify(issuance));

    const plain = await runCli(['verify', file, '--rpc', rpc]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('verified as of batch 1; freshness not checked');

    const current = await runCli(['verify', file, '--rpc', rpc, '--api', served.url]);
    expect(current.code, current.stderr).toBe(0);
    expect(current.stdout).toMatch(/\ncurrent as of batch 1 \(block \d+, \d{4}-\d\d-\d\dT[0-9:.]+Z\)\n$/);

    // The licence is revoked in batch 2 (the other record is sold in it too).
    await merchant.addEvent(licence!, { type: 'revoked' });
    await merchant.addEvent(other!, { type: 'sold' });
    await sealAndAnchor(2);

    const revoked = await runCli(['verify', file, '--rpc', rpc, '--api', served.url]);
    expect(revoked.code, revoked.stdout).toBe(3);
    expect(revoked.stderr).toContain('superseded: revoked at seq 1 in batch 2');
    expect(revoked.stdout).not.toContain('current');

    // The service's own verdict says the same.
    const verdict = await api.verdict(licence!);
    expect(verdict.freshness).toEqual({ status: 'superseded', asOfBatch: 2, latestSeq: 1, ended: true });

    // A service answering with the proof of batch 1, when the chain is at batch 2.
    const older = (await served.http('GET', `/v1/records/${licence}/state-proof?batch=1`)).body;
    const latest = (await served.http<{ stateRoot: string }>('GET', `/v1/records/${licence}/state-proof`))
      .body;
    const caught = async (answer: { status: number; body: unknown }, why: RegExp) => {
      stateProofAnswer = async () => answer;
      const result = await runCli(['verify', file, '--rpc', rpc, '--api', proxyUrl]);
      expect(result.code, result.stdout).toBe(1);
      expect(result.stderr).toMatch(/could not confirm freshness/);
      expect(result.stderr).toMatch(why);
      expect(result.stdout).not.toMatch(/current as of/);
    };
    await caught(
      { status: 200, body: older },
      /as of batch 1, but the chain's latest anchored state is batch 2/,
    );
    // The same old proof relabelled as batch 2's, under batch 2's root: the proof does not reach it.
    await caught(
      { status: 200, body: { ...(older as object), batchId: 2, stateRoot: latest.stateRoot } },
      /does not lead to the root|another value/,
    );
    // The other record's (genuine, current) proof passed off as this one's.
    const another = (await served.http('GET', `/v1/records/${other}/state-proof`)).body;
    await caught({ status: 200, body: { ...(another as object), recordId: licence } }, /state proof/);
    await caught(
      { status: 404, body: { error: 'Not Found', code: 'batch_not_found', message: 'no' } },
      /no state proof/,
    );
    stateProofAnswer = null;

    // The v2 bundle of the revocation: its state root checked on chain; it is current.
    const v2 = (await api.proofsV2(licence!)).bundles.at(-1)!;
    expect(v2.format).toBe('proofmark.bundle.v2');
    const v2File = join(dir, 'revocation-v2.json');
    writeFileSync(v2File, JSON.stringify(v2));
    const v2Result = await runCli(['verify', v2File, '--rpc', rpc, '--api', served.url]);
    expect(v2Result.code, v2Result.stderr).toBe(0);
    expect(v2Result.stdout).toMatch(/\ncurrent as of batch 2 /);
  }, 240_000);
});
