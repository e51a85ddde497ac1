/**
 * The README's five-minute tour, as a test: `proofmark serve` as a real process on a fresh DATA_DIR,
 * operators' `merchant` commands and `demo` against it over HTTP, then an auditor's `verify` and
 * `audit` against its development chain. Then a restart on the same DATA_DIR: the chain comes back
 * with the same contract and roots, and the same bundles still verify.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/client/client.ts';
import type { Batch } from '../../src/client/types.ts';
import { REPO_ROOT, runCli } from './helpers.ts';
import { freePort } from '../helpers/net.ts';
import { waitFor } from '../helpers/wait.ts';

const ADMIN_TOKEN = 'tour-admin-token-0123456789abcdef';

interface Served {
  child: ChildProcess;
  output: () => string;
}

async function serve(env: Record<string, string>, api: string): Promise<Served> {
  let output = '';
  const child = spawn(process.execPath, ['bin/proofmark.js', 'serve'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const client = new ApiClient(api);
  try {
    await waitFor(
      'serve to answer /healthz',
      async () => {
        if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}`);
        return client.health().then(
          () => true,
          () => false,
        );
      },
      60_000,
      200,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}:\n${output}`, { cause: err });
  }
  return { child, output: () => output };
}

function stop(served: Served): Promise<number | null> {
  return new Promise((resolve) => {
    if (served.child.exitCode !== null) return resolve(served.child.exitCode);
    served.child.once('exit', (code) => resolve(code));
    served.child.kill('SIGTERM');
  });
}

function waitAllFinal(api: string): Promise<Batch[]> {
  const client = new ApiClient(api);
  return waitFor(
    'every batch final',
    async () => {
      const { batches } = await client.batches();
      return batches.length > 0 && batches.every((b) => b.status === 'final') && batches;
    },
    60_000,
    200,
  );
}

describe('the five-minute tour, on a real process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-tour-'));
  let env: Record<string, string>;
  let api: string;
  let rpc: string;
  let served: Served | undefined;

  beforeAll(async () => {
    const [port, chainPort] = [await freePort(), await freePort()];
    api = `http://127.0.0.1:${port}`;
    rpc = `http://127.0.0.1:${chainPort}`;
    env = {
      DATA_DIR: dataDir,
      PORT: String(port),
      DEV_CHAIN_PORT: String(chainPort),
      ADMIN_TOKEN,
      BATCH_MAX_AGE_MS: '500',
      LOG_LEVEL: 'info',
    };
    served = await serve(env, api);
  });

  afterAll(async () => {
    if (served) await stop(served);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('operators admit, verify and strike merchants with the CLI', async () => {
    const cliEnv = { ADMIN_TOKEN, PROOFMARK_API: api };
    const created = await runCli(['merchant', 'create', '--name', '星辰卡盟 Star Cards'], cliEnv);
    expect(created.code, created.stderr).toBe(0);
    const merchant = JSON.parse(created.stdout) as { id: string; status: string; apiKey: string };
    expect(merchant).toMatchObject({ status: 'pending' });
    const verified = await runCli(
      ['merchant', 'verify', '--evidence', `reseller letter=${'c'.repeat(64)}`, '--', merchant.id],
      cliEnv,
    );
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ status: 'verified' });
    const struck = await runCli(['merchant', 'strike', '--reason', 'late refund', '--', merchant.id], cliEnv);
    expect(JSON.parse(struck.stdout)).toMatchObject({ status: 'verified', strikes: [{ number: 1 }] });
    const wrongToken = await runCli(['merchant', 'create', '--name', 'x'], {
      ...cliEnv,
      ADMIN_TOKEN: 'w'.repeat(32),
    });
    expect(wrongToken.code).not.toBe(0);
    expect(wrongToken.stderr.trim().split('\n')).toHaveLength(1);
    expect(served!.output()).not.toContain(merchant.apiKey);
    expect(served!.output()).not.toContain(ADMIN_TOKEN);
  });

  it('demo fills the service; verify and audit check it against the chain alone', async () => {
    const demo = await runCli(['demo', '--api', api], { ADMIN_TOKEN });
    expect(demo.code, demo.stderr).toBe(0);
    const pages = [...demo.stdout.matchAll(/\/v\/([A-Za-z0-9_-]{22})/g)].map((m) => m[1]!);
    expect(pages.length).toBeGreaterThanOrEqual(5);
    await waitAllFinal(api);

    const verified = await runCli(['verify', `${api}/v1/records/${pages[0]}/proofs`, '--rpc', rpc]);
    expect(verified.code, verified.stderr).toBe(0);

    const { contract } = await new ApiClient(api).chain();
    const audit = await runCli(['audit', '--api', api, '--rpc', rpc, '--contract', contract, '--json']);
    expect(audit.code, audit.stderr).toBe(0);
    const report = JSON.parse(audit.stdout);
    expect(report).toMatchObject({ ok: true });
  });

  it('a restart on the same DATA_DIR brings back the contract and every root', async () => {
    const before = await waitAllFinal(api);
    const chainBefore = await new ApiClient(api).chain();
    expect(await stop(served!)).toBe(0);

    served = await serve(env, api);
    expect(served.output()).toMatch(/development chain started/);
    const chainAfter = await new ApiClient(api).chain();
    expect(chainAfter).toMatchObject({
      contract: chainBefore.contract,
      nextBatchId: chainBefore.nextBatchId,
    });
    const after = await waitAllFinal(api);
    expect(after.map((b) => [b.id, b.root])).toEqual(before.map((b) => [b.id, b.root]));

    const { contract } = chainAfter;
    const audit = await runCli(['audit', '--api', api, '--rpc', rpc, '--contract', contract, '--json']);
    expect(audit.code, audit.stderr).toBe(0);
  });
});
