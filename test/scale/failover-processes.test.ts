/**
 * The real thing, as processes: two `proofmark serve` processes on one PostgreSQL database and one
 * chain, loaded over HTTP. The leader is SIGKILLed while its anchor transaction is sent but not yet
 * mined; the survivor must take over within the lease TTL and finish that batch with the same
 * transaction, and every acknowledged record must be anchored exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANCHORER_LEASE } from '../../src/batcher/lease.ts';
import { openStorage, type SqlStorage } from '../../src/storage/sql/open.ts';
import { createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import {
  checkAnchoredExactlyOnce,
  clusterEnv,
  LEASE_MS,
  newAcknowledged,
  noteEvent,
  noteRegistration,
  pool,
  startSharedChain,
  type SharedChain,
} from './cluster.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';

const ADMIN_TOKEN = 'scale-admin-token-0123456789abcdef';

interface Instance extends ServeProcess {
  name: string;
}

/** One `proofmark serve` with a data directory of its own (the database is the shared PostgreSQL). */
async function spawnInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const dataDir = mkdtempSync(join(tmpdir(), `proofmark-${name}-`));
  const instance = await spawnServe({ ...env, DATA_DIR: dataDir }, name);
  void instance.exited.then(() => rmSync(dataDir, { recursive: true, force: true }));
  return Object.assign(instance, { name });
}

async function health(i: Instance): Promise<{ leader: boolean; anchoringHalted: string | null }> {
  const res = await i.http('GET', '/healthz');
  if (res.status !== 200) throw new Error(`healthz ${res.status}`);
  return res.body as { leader: boolean; anchoringHalted: string | null };
}

describe('leader failover with real processes (SIGKILL)', () => {
  let skip: string | null = null;
  let chain: SharedChain | undefined;
  let database: TestDatabase | undefined;
  let observer: SqlStorage | undefined;
  const instances: Instance[] = [];

  beforeAll(async () => {
    skip = await postgresSkipReason();
    if (skip) return;
    chain = await startSharedChain();
    database = await createTestDatabase('postgres');
  });
  afterAll(async () => {
    for (const i of instances)
      if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
    await Promise.all(instances.map((i) => i.exited));
    await chain?.rpc('evm_setAutomine', [true]).catch(() => {});
    await observer?.close();
    await chain?.close();
    await database?.drop();
  });

  it('two serve processes; the leader is SIGKILLed mid-batch; the survivor anchors everything once', async (t) => {
    if (skip) return t.skip(skip);
    const contract = await chain!.deploy();
    const env = {
      ...clusterEnv(chain!.url, contract),
      DATABASE_URL: database!.databaseUrl!,
      ADMIN_TOKEN,
      CHAIN_POLL_MS: '100',
      BATCH_MAX_LEAVES: '500',
      BATCH_MAX_AGE_MS: '3600000',
      LOG_LEVEL: 'warn',
      PUBLIC_BASE_URL: 'http://proofmark.test',
    };
    // Both start at once: migrations race too.
    instances.push(...(await Promise.all([spawnInstance('one', env), spawnInstance('two', env)])));
    observer = await openStorage({ databaseUrl: database!.databaseUrl, dataDir: database!.dataDir });
    const db = observer.db;

    await waitFor('one instance to lead', async () => {
      const flags = await Promise.all(instances.map((i) => health(i).then((h) => h.leader)));
      return flags.some(Boolean);
    });
    const [one, two] = instances as [Instance, Instance];

    const created = await one.http('POST', '/v1/merchants', ADMIN_TOKEN, { name: 'Process Merchant' });
    expect(created.status).toBe(201);
    const { id: merchantId, apiKey } = created.body as { id: string; apiKey: string };
    const verified = await two.http('POST', `/v1/merchants/${merchantId}/verify`, ADMIN_TOKEN, {
      evidence: [{ description: 'reseller letter', sha256: 'cd'.repeat(32) }],
    });
    expect(verified.status).toBe(200);

    // The chain stops mining: the leader's first anchor is sent and then waits, unmined.
    await chain!.rpc('evm_setAutomine', [false]);

    // As soon as a batch is half-finished (its transaction sent, unmined), SIGKILL whichever
    // process holds the lease at that moment (the lease row names it by pid).
    let killedAt = 0;
    let leaderAt = 0;
    let victim: Instance | null = null;
    let killed: { batchId: number; txHash: string; tokenAtKill: number } | null = null;
    const killer = (async () => {
      const batch = await waitFor(
        'the leader to send its first anchor',
        () =>
          db
            .selectFrom('batches')
            .select(['id', 'status', 'tx_hash'])
            .where('status', '=', 'submitted')
            .orderBy('id')
            .executeTakeFirst(),
        60_000,
        5,
      );
      const lease = await db
        .selectFrom('leases')
        .selectAll()
        .where('name', '=', ANCHORER_LEASE)
        .executeTakeFirstOrThrow();
      const holderPid = Number(lease.holder.split('-')[0]);
      const target = instances.find((i) => i.child.pid === holderPid);
      expect(target, `lease holder ${lease.holder}`).toBeDefined();
      target!.child.kill('SIGKILL');
      killedAt = Date.now();
      victim = target!;
      killed = { batchId: batch.id, txHash: batch.tx_hash!, tokenAtKill: Number(lease.token) };
      await target!.exited;
      const survivor = instances.find((i) => i !== target)!;
      await waitFor('the survivor to lead', async () => (await health(survivor)).leader, 20_000, 10);
      leaderAt = Date.now();
    })();
    killer.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"

    // Load over HTTP through both, until a while after the kill; a request to the dead process is
    // retried through the other one, as a load balancer or client would.
    const ack = newAcknowledged();
    const maxRequests = 80;
    let sent = 0;
    let sentAfterKill = 0;
    let failedOver = 0;
    const statuses: number[] = [];
    const other = (i: Instance) => (i === one ? two : one);
    const worker = async () => {
      while (sent < maxRequests && sentAfterKill < 8) {
        const r = sent++;
        if (killedAt) sentAfterKill++;
        const body = { records: Array.from({ length: 100 }, (_, k) => recordBody(`proc-${r * 100 + k}`)) };
        const first = r % 2 === 0 ? one : two;
        const via = first === victim ? other(first) : first;
        let res = await via.http('POST', '/v1/records', apiKey, body).catch(() => null);
        if (!res) {
          failedOver++;
          res = await other(via).http('POST', '/v1/records', apiKey, body);
        }
        noteRegistration(ack, res);
        statuses.push(res.status);
      }
    };
    await Promise.all([1, 2, 3, 4].map(worker));
    await killer;
    const survivor = other(victim!);
    const { batchId, txHash, tokenAtKill } = killed!;
    for (const s of statuses) expect([200, 201]).toContain(s);
    expect(ack.records.size).toBe(sent * 100);
    // Lifecycle events through the survivor for a slice of the records.
    const ids = [...ack.records.values()];
    await pool(
      4,
      ids
        .filter((_, i) => i % 25 === 0)
        .map((id) => async () => {
          const res = await survivor.http('POST', `/v1/records/${id}/events`, apiKey, { type: 'sold' });
          expect(res.status).toBe(201);
          noteEvent(ack, id, (res.body as { seq: number }).seq);
        }),
    );

    const takeoverMs = leaderAt - killedAt;
    // Let the survivor find the sent transaction pending (and rebroadcast it), then mine again.
    await new Promise((r) => setTimeout(r, 500));
    await chain!.rpc('evm_setAutomine', [true]);
    await chain!.rpc('evm_mine');

    const seal = await survivor.http('POST', '/v1/admin/batches/seal', ADMIN_TOKEN);
    expect(seal.status).toBe(200);
    await waitFor(
      'every batch final',
      async () => {
        const open = await db.selectFrom('batches').select('id').where('status', '!=', 'final').execute();
        const pending = await db
          .selectFrom('events')
          .select('seq')
          .where('batch_id', 'is', null)
          .limit(1)
          .execute();
        return open.length === 0 && pending.length === 0;
      },
      60_000,
      50,
    );
    const finalMs = Date.now() - killedAt;
    console.log(
      `process failover: lease TTL ${LEASE_MS} ms, CHAIN_POLL_MS 100; survivor led ${takeoverMs} ms after SIGKILL ` +
        `(observed by polling /healthz); all batches final ${finalMs} ms after SIGKILL; ` +
        `${sent * 100} records registered, ${failedOver} requests retried through the survivor`,
    );
    expect(takeoverMs).toBeLessThan(LEASE_MS + 5000);

    const result = await checkAnchoredExactlyOnce(db, chain!.url, contract, ack);
    expect(result.anchorTx.get(batchId)).toBe(txHash);
    expect(await health(survivor)).toMatchObject({ leader: true, anchoringHalted: null });

    // A graceful stop hands the lease back at once.
    survivor.child.kill('SIGTERM');
    expect((await survivor.exited).code).toBe(0);
    const lease = await db
      .selectFrom('leases')
      .selectAll()
      .where('name', '=', ANCHORER_LEASE)
      .executeTakeFirstOrThrow();
    expect(Number(lease.expires_at)).toBe(0);
    expect(Number(lease.token)).toBeGreaterThan(tokenAtKill);
  });
});
