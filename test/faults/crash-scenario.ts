/**
 * One crash test, as transparency logs test their sequencers: a real `proofmark serve` process is
 * killed with SIGKILL at a named point between "committed locally" and "published" (or, for
 * 'after-ack', right after records were acknowledged), then started again on the same data. After
 * the restart every acknowledged record must sit in exactly one final batch, every batch id must be
 * anchored exactly once on chain (read from the BatchAnchored events) and every proof must verify.
 *
 * Pipelined, the same with several anchors in flight: the acknowledged events fill four batches of
 * two (BATCH_MAX_LEAVES), the node holds its blocks back while the anchors are sent, and the process
 * dies at the fourth seal, sign or broadcast (three anchors in flight), or at the first receipt or
 * anchored batch (four in flight), as the node mines on a clock again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { CrashPoint } from '../../src/batcher/crash-points.ts';
import { verifyBundleOnChain } from '../../src/chain/bundle-check.ts';
import { connectRegistry } from '../../src/chain/registry.ts';
import { admitMerchant } from '../../src/client/admit.ts';
import type { ProofBundleV1 } from '../../src/core/index.ts';
import { openStorage } from '../../src/storage/sql/open.ts';
import type { ChainNode } from '../helpers/chain-node.ts';
import { freePort } from '../helpers/net.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';
import { waitFor } from '../helpers/wait.ts';
import { recordBody } from '../helpers/records.ts';
import {
  checkAnchoredExactlyOnce,
  newAcknowledged,
  noteEvent,
  noteRegistration,
  TEST_SECRET_KEY,
} from '../scale/cluster.ts';

export const ADMIN_TOKEN = 'crash-admin-token-0123456789abcdef';

/** Where the process dies: a crash point in the batcher, or killed by the test after acknowledging. */
export type CrashAt = 'after-ack' | CrashPoint;

/** The batch state the database must hold right after the crash: proof the point was reached. */
const STATE_AT_CRASH: Record<CrashAt, string | null> = {
  'after-ack': null,
  'after-seal': 'sealed',
  'after-sign': 'submitted',
  'after-broadcast': 'submitted',
  'after-mined': 'submitted',
  'after-anchored': 'anchored',
};

/**
 * Pipelined: where the process dies (PROOFMARK_TEST_CRASH_AT), and what its batches (1 to 4, in id
 * order) must look like after it: the point was reached with several anchors in flight. Blocks come
 * on a clock, so which of those already made it into a block is left open.
 */
export const PIPELINED_CRASHES: Record<CrashPoint, { armed: string; states: (s: string[]) => boolean }> = {
  'after-seal': {
    armed: 'after-seal:4',
    states: (s) => s.length === 4 && s[3] === 'sealed' && s.slice(0, 3).every(sent),
  },
  'after-sign': {
    armed: 'after-sign:4',
    states: (s) => s.length === 4 && s[3] === 'submitted' && s.every(sent),
  },
  'after-broadcast': {
    armed: 'after-broadcast:4',
    states: (s) => s.length === 4 && s[3] === 'submitted' && s.every(sent),
  },
  'after-mined': {
    armed: 'after-mined',
    states: (s) => s.length === 4 && s.every(sent) && s.filter((x) => x === 'submitted').length >= 2,
  },
  'after-anchored': {
    armed: 'after-anchored',
    states: (s) => s.length === 4 && s.includes('anchored') && s.filter((x) => x === 'submitted').length >= 2,
  },
};

/** Signed and sent, mined or not; not yet final. */
const sent = (status: string) => status === 'submitted' || status === 'anchored';

/**
 * The chain under the service: the embedded one (dies with it) or a node that outlives it; with
 * `pipelined`, a node mining on a clock that the scenario holds back while anchors are sent.
 */
export type ChainSetup =
  | { kind: 'embedded' }
  | { kind: 'node'; node: ChainNode; anchorerKey: string; pipelined?: { blockMs: number } };

export async function crashAndRecover(at: CrashAt, setup: ChainSetup): Promise<void> {
  const pipelined = setup.kind === 'node' && setup.pipelined !== undefined;
  const crash =
    at === 'after-ack'
      ? null
      : pipelined
        ? PIPELINED_CRASHES[at]
        : { armed: at, states: (s: string[]) => s.length === 1 && s[0] === STATE_AT_CRASH[at] };
  const dataDir = mkdtempSync(join(tmpdir(), `proofmark-crash-${at}-`));
  const chainEnv: Record<string, string> =
    setup.kind === 'embedded'
      ? { DEV_CHAIN_PORT: String(await freePort()) }
      : {
          RPC_URL: setup.node.url,
          ANCHOR_CONTRACT: await setup.node.deploy(),
          ANCHORER_PRIVATE_KEY: setup.anchorerKey,
          SECRET_KEY: TEST_SECRET_KEY,
          CONFIRMATIONS: '1',
          ...(pipelined && { BATCH_MAX_LEAVES: '2', MAX_IN_FLIGHT: '8' }),
        };
  const env = {
    ...chainEnv,
    DATA_DIR: dataDir,
    ADMIN_TOKEN,
    PUBLIC_BASE_URL: 'http://proofmark.test',
    BATCH_MAX_AGE_MS: '3600000', // nothing seals until the test asks
    CHAIN_POLL_MS: '50',
  };
  let first: ServeProcess | undefined;
  let second: ServeProcess | undefined;
  const node = setup.kind === 'node' ? setup.node : null;
  try {
    // Pipelined, the node holds its blocks back until every anchor is sent (or the crash comes first).
    if (pipelined) await node!.mineEvery(0);
    first = await spawnServe(crash ? { ...env, PROOFMARK_TEST_CRASH_AT: crash.armed } : env, 'first');
    const ack = newAcknowledged();
    const { apiKey } = await admitMerchant(
      first.client(ADMIN_TOKEN),
      { name: 'Crash Test Shop' },
      TEST_EVIDENCE,
    );
    const registered = await first.http('POST', '/v1/records', apiKey, {
      records: Array.from({ length: 6 }, (_, i) => recordBody(`${at}-${i}`)),
    });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    noteRegistration(ack, registered);
    const sold = [...ack.records.values()][0]!;
    const event = await first.http('POST', `/v1/records/${sold}/events`, apiKey, { type: 'sold' });
    expect(event.status, JSON.stringify(event.body)).toBe(201);
    noteEvent(ack, sold, 1);

    // Pipelined, the three full batches are sealed and sent by the loop before the last is asked for.
    if (pipelined) await untilBatches(first, (b) => b.length === 3 && b.every(sent));
    if (at === 'after-ack') {
      first.child.kill('SIGKILL');
    } else {
      // The seal itself may be what dies ('after-seal' is reached inside the request).
      await first.http('POST', '/v1/admin/batches/seal', ADMIN_TOKEN).catch(() => null);
    }
    if (pipelined && (at === 'after-mined' || at === 'after-anchored')) {
      await untilBatches(first, (b) => b.length === 4 && b.every(sent));
    }
    if (pipelined) await node!.mineEvery(setup.pipelined!.blockMs);
    const death = await first.exited;
    expect(death.signal, first.output.join('')).toBe('SIGKILL');
    await expectStateAtCrash(dataDir, crash?.states ?? ((s) => s.length === 0), first.output.join(''));

    second = await spawnServe(env, 'second');
    await second.http('POST', '/v1/admin/batches/seal', ADMIN_TOKEN);
    await waitFor(
      'every batch final after the restart',
      async () => {
        const { body } = await second!.http('GET', '/v1/batches?limit=1000');
        const batches = body.batches as Array<{ status: string }>;
        return batches.length > 0 && batches.every((b) => b.status === 'final');
      },
      60_000,
      100,
    );

    const { rpcUrl, contract } = (await second.http('GET', '/v1/chain')).body as {
      rpcUrl: string | null;
      contract: string;
    };
    const chainUrl = node?.url ?? rpcUrl!;
    const storage = await openStorage({ dataDir });
    try {
      await checkAnchoredExactlyOnce(storage.db, chainUrl, contract, ack);
    } finally {
      await storage.close();
    }
    const chain = await connectRegistry({ rpcUrl: chainUrl, contract });
    try {
      for (const recordId of ack.records.values()) {
        const { body } = await second.http<{ bundles: ProofBundleV1[] }>(
          'GET',
          `/v1/records/${recordId}/proofs`,
        );
        expect(body.bundles.length).toBeGreaterThan(0);
        for (const bundle of body.bundles) {
          const verdict = await verifyBundleOnChain(chain, bundle, 1);
          expect(verdict, `${recordId} seq ${bundle.seq}`).toMatchObject({ valid: true });
        }
        expect((await second.http('GET', `/v1/verify/${recordId}`)).body.verdict).toBe('genuine');
      }
    } finally {
      chain.close();
    }
  } finally {
    if (first && first.child.exitCode === null && first.child.signalCode === null)
      first.child.kill('SIGKILL');
    await first?.exited;
    await second?.stop();
    if (pipelined) await node!.mineEvery(setup.pipelined!.blockMs);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Waits until the live process's batch statuses (in id order) pass `test`. */
async function untilBatches(serve: ServeProcess, test: (statuses: string[]) => boolean): Promise<void> {
  await waitFor('the batches to be sealed and sent', async () => {
    const { body } = await serve.http('GET', '/v1/batches?limit=1000');
    const batches = body.batches as Array<{ id: number; status: string }>;
    return test([...batches].sort((a, b) => a.id - b.id).map((b) => b.status));
  });
}

/**
 * What the dead process left in the database shows it died at the point it was asked to: its
 * batches' statuses (in id order) pass `states`, and every acknowledged event is batched unless
 * none was sealed.
 */
async function expectStateAtCrash(
  dataDir: string,
  states: (statuses: string[]) => boolean,
  output: string,
): Promise<void> {
  const storage = await openStorage({ dataDir });
  try {
    const batches = await storage.db.selectFrom('batches').select(['id', 'status']).orderBy('id').execute();
    const statuses = batches.map((b) => b.status);
    expect(states(statuses), `${JSON.stringify(statuses)}\n${output}`).toBe(true);
    const unbatched = await storage.db
      .selectFrom('events')
      .select('record_id')
      .where('batch_id', 'is', null)
      .execute();
    expect(unbatched.length).toBe(statuses.length === 0 ? 7 : 0);
  } finally {
    await storage.close();
  }
}
