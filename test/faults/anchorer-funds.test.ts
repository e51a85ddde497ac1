/**
 * The anchorer key runs out of funds. A dedicated anchorer account (a fresh key holding
 * ANCHORER_ROLE, not the deployer) on a real Hardhat chain is emptied with hardhat_setBalance: the
 * anchor transaction is signed and saved, and the node refuses it. The error must be clear (which
 * account, which batch, its balance, what to do) in GET /healthz and, after a few failures, in the
 * log at error level; records keep being accepted and their verdicts say pending. Once the account
 * is funded, the SAME saved transaction is sent and mined (no second signature, no second anchor),
 * as the chain's own events show, and everything registered meanwhile is anchored exactly once.
 */
import { formatEther, parseEther, Transaction, Wallet } from 'ethers';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Batcher } from '../../src/batcher/batcher.ts';
import { Lease } from '../../src/batcher/lease.ts';
import { deployRegistry } from '../../src/chain/deploy.ts';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import { ChainProbe } from './faulty-chain.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import {
  checkAnchoredExactlyOnce,
  clusterEnv,
  newAcknowledged,
  noteRegistration,
  startSharedChain,
  type SharedChain,
} from '../scale/cluster.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

const TICK_MS = 50;

let chain: SharedChain;
let h: Harness | undefined;
let batcher: Batcher | undefined;
let probe: ChainProbe | undefined;

beforeAll(async () => {
  chain = await startSharedChain();
});

afterAll(async () => {
  await batcher?.stop();
  probe?.close();
  await h?.close();
  await chain?.close();
});

/** Replaces the harness's batcher with one whose log lines (warn and above) are kept in `lines`. */
function startBatcherWithLog(harness: Harness, lines: string[]): Batcher {
  const services = harness.runtime.services;
  const replacement = new Batcher({
    ctx: services.ctx,
    chain: services.chain,
    lease: new Lease(services.ctx.storage.leases, 'funds-test', 5000),
    confirmations: 1,
    maxLeaves: 10_000,
    maxAgeMs: 3_600_000,
    tickMs: TICK_MS,
    log: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
  });
  services.batcher = replacement;
  replacement.start();
  return replacement;
}

const setBalance = (address: string, wei: bigint) =>
  chain.rpc('hardhat_setBalance', [address, `0x${wei.toString(16)}`]);

it('an empty anchorer account: a clear error, records accepted, the saved transaction sent once funded', async () => {
  const anchorer = Wallet.createRandom();
  const { address: contract } = await deployRegistry(chain.provider, DEV_DEPLOYER_KEY, anchorer.address);
  await setBalance(anchorer.address, 0n);
  h = await startHarness({
    env: clusterEnv(chain.url, contract, { ANCHORER_PRIVATE_KEY: anchorer.privateKey }),
    startBatcher: false,
  });
  const logLines: string[] = [];
  batcher = startBatcherWithLog(h, logLines);
  probe = new ChainProbe(chain.url, contract);
  const db = h.runtime.storage.db;
  const { apiKey } = await h.verifiedMerchant('Empty Wallet Shop');
  const ack = newAcknowledged();
  let n = 0;
  const register = async (count: number): Promise<string[]> => {
    const records = Array.from({ length: count }, () => recordBody(`funds-${++n}`));
    const res = await h!.call('POST', '/v1/records', { token: apiKey, body: { records } });
    expect(res.statusCode, res.body).toBe(201);
    noteRegistration(ack, res);
    return res.json().records.map((r: { id: string }) => r.id);
  };
  const lastError = async () => (await h!.call('GET', '/healthz')).json().lastBatcherError as string | null;
  const expectPending = async (ids: string[]) => {
    for (const id of ids) expect((await h!.call('GET', `/v1/verify/${id}`)).json().verdict).toBe('pending');
  };
  const fundsMessage = (balance: string) =>
    new RegExp(
      `^anchorer ${anchorer.address} has insufficient funds to anchor batch 1: balance ${balance.replace('.', '\\.')} ETH, ` +
        'the transaction may cost up to (0\\.\\d+) ETH; fund the account$',
    );

  // 1. Empty: signed and saved, refused by the node; the error names account, batch and balance.
  const first = await register(5);
  expect((await h.admin('POST', '/v1/admin/batches/seal')).statusCode).toBe(200);
  const emptyError = await waitFor('an insufficient-funds error after a few failures', async () => {
    const message = await lastError();
    return batcher!.status.consecutiveFailures > 3 && message && fundsMessage('0.0').test(message)
      ? message
      : null;
  });
  const saved = await db.selectFrom('batches').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  expect(saved.status).toBe('submitted');
  expect(Transaction.from(saved.raw_tx!).from).toBe(anchorer.address);
  const upfront = parseEther(fundsMessage('0.0').exec(emptyError)![1]!);
  expect(upfront).toBeGreaterThan(0n);

  // The log says it at error level, without the key.
  const logged = logLines.map((line) => JSON.parse(line) as { level: number; msg: string; err?: string });
  expect(logged.some((l) => l.level >= 50 && l.err !== undefined && fundsMessage('0.0').test(l.err))).toBe(
    true,
  );
  expect(logLines.join('\n')).not.toContain(anchorer.privateKey.slice(2));

  // 2. Time passes (blocks are mined, the base fee moves) and the account gets just too little.
  await chain.rpc('hardhat_mine', ['0x8']);
  await setBalance(anchorer.address, upfront - 1n);
  await waitFor('the error to show the new balance', async () => {
    const message = await lastError();
    return message && fundsMessage(formatEther(upfront - 1n)).test(message);
  });
  const during = await register(5);
  await expectPending([...first, ...during]);
  expect(await probe.nextBatchId()).toBe(1);
  expect(await probe.anchorsOf(1)).toEqual([]);
  const stillSaved = await db.selectFrom('batches').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  expect(stillSaved).toMatchObject({ status: 'submitted', tx_hash: saved.tx_hash, raw_tx: saved.raw_tx });

  // 3. Funded: the saved transaction goes through; anchoring resumes within the backoff.
  await setBalance(anchorer.address, parseEther('1'));
  const backoff = Math.min(30_000, TICK_MS * 2 ** batcher.status.consecutiveFailures);
  await h.sealAndWaitFinal(backoff + 30_000);
  const anchors = await probe.anchorsOf(1);
  expect(anchors.map((a) => a.txHash)).toEqual([saved.tx_hash]);
  await checkAnchoredExactlyOnce(db, chain.url, contract, ack);
  for (const id of [...first, ...during]) {
    expect((await h.call('GET', `/v1/verify/${id}`)).json().verdict).toBe('genuine');
  }
  expect(await lastError()).toBeNull();
  // One transaction per batch ever left the account: nonces 0 and 1.
  expect(await chain.provider.getTransactionCount(anchorer.address, 'latest')).toBe(2);
});
