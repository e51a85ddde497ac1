/**
 * The leader dies mid-batch. Two instances share one PostgreSQL database and one chain; records
 * arrive through both; the leader is killed at a chosen point of anchoring (after sealing, after
 * saving its signed transaction, after sending it). The other instance must take the lease within
 * seconds, finish the half-done batch without a second anchor, and every acknowledged record must end
 * up anchored exactly once, as the database and the chain's own logs both say.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Transaction } from 'ethers';
import type { Batcher } from '../../src/batcher/batcher.ts';
import type { AnchorChain } from '../../src/chain/registry.ts';
import type { Hex } from '../../src/core/index.ts';
import { ANCHORER_LEASE } from '../../src/batcher/lease.ts';
import { createTestDatabase, postgresSkipReason } from '../helpers/databases.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import {
  checkAnchoredExactlyOnce,
  clusterEnv,
  LEASE_MS,
  newAcknowledged,
  noteEvent,
  noteRegistration,
  pool,
  replaceBatcher,
  startSharedChain,
  type Acknowledged,
  type SharedChain,
} from './cluster.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

type CrashPoint = 'sealed' | 'submitted' | 'sent';

interface Instance {
  name: string;
  h: Harness;
  batcher: Batcher;
  /** Its name in the lease row. */
  holder: string;
}

interface CrashInfo {
  victim: Instance;
  batchId: number;
  /** The signed transaction the victim had saved for that batch (null when it died before signing). */
  txHash: Hex | null;
  /** The batch's state in the database when the victim died. */
  status: string;
}

interface Scenario {
  crashAt: CrashPoint;
  records: number;
  maxLeaves: number;
  what: string;
}

const SCENARIOS: Scenario[] = [
  {
    crashAt: 'submitted',
    records: 3000,
    maxLeaves: 1000,
    what: 'after saving its signed transaction, before sending it',
  },
  { crashAt: 'sealed', records: 800, maxLeaves: 300, what: 'right after sealing, before signing' },
  {
    crashAt: 'sent',
    records: 800,
    maxLeaves: 300,
    what: 'after sending its transaction, while it waits unmined',
  },
];

/** Takeover timings, printed at the end for docs/operations.md. */
const timings: string[] = [];

describe('leader failover on PostgreSQL (in-process instances)', () => {
  let skip: string | null = null;
  let chain: SharedChain | undefined;

  beforeAll(async () => {
    skip = await postgresSkipReason();
    if (!skip) chain = await startSharedChain();
  });
  afterAll(async () => {
    await chain?.close();
    if (timings.length) console.log(timings.join('\n'));
  });

  for (const scenario of SCENARIOS) {
    it(`the leader killed ${scenario.what}: the other instance resumes, nothing anchored twice`, async (t) => {
      if (skip) return t.skip(skip);
      const database = await createTestDatabase('postgres');
      const instances: Instance[] = [];
      try {
        const contract = await chain!.deploy();
        const env = clusterEnv(chain!.url, contract, { BATCH_MAX_LEAVES: String(scenario.maxLeaves) });
        if (scenario.crashAt === 'sent') await chain!.rpc('evm_setAutomine', [false]);

        // Two instances whose chains kill them at the chosen point: whichever leads when the first
        // batch gets there dies (usually the first to start; under load the lease may have moved).
        let crash: CrashInfo | null = null;
        let crashedAt = 0;
        let claimed = false;
        /** Only one instance dies: the first to reach the crash point claims it, synchronously. */
        const claim = () => (claimed ? false : (claimed = true));
        for (const name of ['A', 'B']) {
          const h = await startHarness({ database, env, startBatcher: false });
          const real = h.runtime.services.chain;
          const die = async (batchId: number, txHash: Hex | null, why: string): Promise<never> => {
            crashedAt = Date.now();
            self.batcher.crash();
            const row = await h.runtime.storage.db
              .selectFrom('batches')
              .select('status')
              .where('id', '=', batchId)
              .executeTakeFirstOrThrow();
            crash = { victim: self, batchId, txHash, status: row.status };
            throw new Error(`instance ${name} killed ${why}`);
          };
          const crashable: AnchorChain = {
            ...real,
            signAnchor: async (batchId, root, leafCount, _nonce, stateRoot) => {
              if (scenario.crashAt === 'sealed' && claim()) await die(batchId, null, 'after sealing');
              return real.signAnchor(batchId, root, leafCount, undefined, stateRoot);
            },
            broadcast: async (rawTx) => {
              if (scenario.crashAt !== 'sealed' && claim()) {
                if (scenario.crashAt === 'sent') await real.broadcast(rawTx);
                const txHash = Transaction.from(rawTx).hash as Hex;
                const row = await h.runtime.storage.db
                  .selectFrom('batches')
                  .select('id')
                  .where('tx_hash', '=', txHash)
                  .executeTakeFirstOrThrow();
                await die(row.id, txHash, scenario.crashAt === 'sent' ? 'after sending' : 'before sending');
              }
              return real.broadcast(rawTx);
            },
          };
          const holder = `instance-${name}-${randomUUID()}`;
          const batcher = replaceBatcher(h, crashable, { holder, maxLeaves: scenario.maxLeaves });
          const self: Instance = { name, h, batcher, holder };
          instances.push(self);
          self.batcher.start();
          if (name === 'A') await waitFor('A to lead', () => self.batcher.status.leader);
        }
        expect((await instances[0]!.h.call('GET', '/healthz')).json()).toMatchObject({ leader: true });

        // Watch the takeover from the moment the leader dies.
        let leaderAt = 0;
        const watch = (async () => {
          const info = await waitFor('the leader to be killed', () => crash, 120_000, 5);
          // The batch it was working on is half-finished, exactly as the crash point says.
          expect(info.status).toBe(scenario.crashAt === 'sealed' ? 'sealed' : 'submitted');
          const survivor = instances.find((i) => i !== info.victim)!;
          await waitFor('the survivor to take the lease', () => survivor.batcher.status.leader, 20_000, 5);
          leaderAt = Date.now();
          if (scenario.crashAt === 'sent') {
            // Let the survivor find the transaction pending and rebroadcast it a few times, then mine.
            await new Promise((r) => setTimeout(r, 300));
            await chain!.rpc('evm_setAutomine', [true]);
            await chain!.rpc('evm_mine');
          }
          await waitFor(
            'the half-finished batch to be final',
            async () =>
              (
                await survivor.h.runtime.storage.db
                  .selectFrom('batches')
                  .select('status')
                  .where('id', '=', info.batchId)
                  .executeTakeFirst()
              )?.status === 'final',
            30_000,
            10,
          );
          return { info, survivor, finalAt: Date.now() };
        })();
        watch.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"

        // Load: records through both instances (only the survivor once the leader is dead), client
        // retries through the other instance, lifecycle events.
        const [a, b] = instances.map((i) => i.h) as [Harness, Harness];
        const { apiKey } = await a.verifiedMerchant('Failover Merchant');
        const ack = newAcknowledged();
        const perRequest = 100;
        const requests = Math.ceil(scenario.records / perRequest);
        const instanceFor = (i: number): Harness => {
          const dead = (crash as CrashInfo | null)?.victim.h;
          const pick = i % 2 === 0 ? a : b;
          return pick === dead ? (pick === a ? b : a) : pick;
        };
        const statuses = await pool(
          4,
          Array.from({ length: requests }, (_, r) => async () => {
            const ids = Array.from(
              { length: Math.min(perRequest, scenario.records - r * perRequest) },
              (_, k) => `fo-${r * perRequest + k}`,
            );
            const body = { records: ids.map((id) => recordBody(id)) };
            const res = await instanceFor(r).call('POST', '/v1/records', { token: apiKey, body });
            noteRegistration(ack, res);
            if (r % 5 === 0) {
              // A client retry through the other instance: a replay, same ids.
              const replay = await instanceFor(r + 1).call('POST', '/v1/records', { token: apiKey, body });
              expect(replay.statusCode).toBe(200);
              noteRegistration(ack, replay);
            }
            return res.statusCode;
          }),
        );
        expect(statuses.every((s) => s === 201)).toBe(true);
        const recordIds = [...ack.records.values()];
        expect(recordIds).toHaveLength(scenario.records);
        // Every tenth record is sold, every twentieth activated too.
        await pool(
          4,
          recordIds
            .filter((_, i) => i % 10 === 0)
            .map((id, i) => async () => {
              for (const type of i % 2 === 0 ? ['sold', 'activated'] : ['sold']) {
                const res = await instanceFor(i).call('POST', `/v1/records/${id}/events`, {
                  token: apiKey,
                  body: { type },
                });
                expect(res.statusCode, res.body).toBe(201);
                noteEvent(ack, id, res.json().seq);
              }
            }),
        );

        // The crash came with the first full batch; the survivor has taken over and resumed it.
        const { info, survivor, finalAt } = await watch;
        const takeoverMs = leaderAt - crashedAt;
        timings.push(
          `failover (${scenario.crashAt}): lease TTL ${LEASE_MS} ms; the survivor led ${takeoverMs} ms after the leader died; ` +
            `the half-finished batch ${info.batchId} was final ${finalAt - crashedAt} ms after`,
        );
        expect(takeoverMs).toBeLessThan(LEASE_MS + 4000);
        const s = survivor.h;
        expect((await s.call('GET', '/healthz')).json()).toMatchObject({
          leader: true,
          anchoringHalted: null,
        });
        expect(info.victim.batcher.status.leader).toBe(false);

        // Seal what is left (through the survivor) and wait until everything is final.
        await s.sealAndWaitFinal(60_000);
        const result = await checkAnchoredExactlyOnce(s.runtime.storage.db, chain!.url, contract, ack);
        expect(result.batches).toBeGreaterThanOrEqual(Math.floor(scenario.records / scenario.maxLeaves));
        if (scenario.crashAt !== 'sealed') {
          // The survivor finished the batch with the very transaction the dead leader had saved.
          expect(result.anchorTx.get(info.batchId)).toBe(info.txHash);
        }
        // The lease ended with the survivor, under a newer fencing token.
        const lease = await s.runtime.storage.db
          .selectFrom('leases')
          .selectAll()
          .where('name', '=', ANCHORER_LEASE)
          .executeTakeFirstOrThrow();
        expect(lease.holder).toBe(survivor.holder);
        expect(Number(lease.token)).toBeGreaterThanOrEqual(2);

        // A consumer sees every record as genuine, whichever instance answers.
        for (const id of recordIds.filter((_, i) => i % 97 === 0)) {
          const verdict = await s.call('GET', `/v1/verify/${id}`);
          expect(verdict.json()).toMatchObject({ verdict: 'genuine' });
        }
        await checkSample(s, ack);
      } finally {
        if (scenario.crashAt === 'sent') await chain!.rpc('evm_setAutomine', [true]).catch(() => {});
        await Promise.allSettled(instances.map((i) => i.h.close()));
        await database.drop();
      }
    });
  }
});

/** Proof bundles served for a sample of records name a final batch and the chain's root. */
async function checkSample(h: Harness, ack: Acknowledged) {
  const ids = [...ack.events.keys()].slice(0, 5);
  for (const id of ids) {
    const res = await h.call('GET', `/v1/records/${id}/proofs`);
    expect(res.statusCode, res.body).toBe(200);
    const bundles = res.json().bundles as { batchId: number; anchor: { status: string } }[];
    expect(bundles.length).toBe(1 + (ack.events.get(id)?.length ?? 0));
    for (const bundle of bundles) {
      expect(bundle.batchId).toBeGreaterThan(0);
      expect(bundle.anchor.status).toBe('final');
    }
  }
}
