/**
 * One crash test, as transparency logs test their sequencers: a real `proofmark serve` process is
 * killed with SIGKILL at a named point between "committed locally" and "published" (or, for
 * 'after-ack', right after records were acknowledged), then started again on the same data. After
 * the restart every acknowledged record must sit in exactly one final batch, every batch id must be
 * anchored exactly once on chain (read from the BatchAnchored events) and every proof must verify.
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

/** The chain under the service: the embedded one (dies with it) or a node that outlives it. */
export type ChainSetup =
  { kind: 'embedded' } | { kind: 'node'; url: string; deploy(): Promise<string>; anchorerKey: string };

export async function crashAndRecover(at: CrashAt, setup: ChainSetup): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), `proofmark-crash-${at}-`));
  const chainEnv: Record<string, string> =
    setup.kind === 'embedded'
      ? { DEV_CHAIN_PORT: String(await freePort()) }
      : {
          RPC_URL: setup.url,
          ANCHOR_CONTRACT: await setup.deploy(),
          ANCHORER_PRIVATE_KEY: setup.anchorerKey,
          SECRET_KEY: TEST_SECRET_KEY,
          CONFIRMATIONS: '1',
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
  try {
    first = await spawnServe(at === 'after-ack' ? env : { ...env, PROOFMARK_TEST_CRASH_AT: at }, 'first');
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

    if (at === 'after-ack') {
      first.child.kill('SIGKILL');
    } else {
      // The seal itself may be what dies ('after-seal' is reached inside the request).
      await first.http('POST', '/v1/admin/batches/seal', ADMIN_TOKEN).catch(() => null);
    }
    const death = await first.exited;
    expect(death.signal, first.output.join('')).toBe('SIGKILL');
    await expectStateAtCrash(dataDir, at);

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
    const chainUrl = setup.kind === 'node' ? setup.url : rpcUrl!;
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
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** What the dead process left in the database shows it died at the point it was asked to. */
async function expectStateAtCrash(dataDir: string, at: CrashAt): Promise<void> {
  const storage = await openStorage({ dataDir });
  try {
    const batches = await storage.db.selectFrom('batches').select(['id', 'status']).execute();
    const expected = STATE_AT_CRASH[at];
    expect(batches.map((b) => b.status)).toEqual(expected ? [expected] : []);
    const unbatched = await storage.db
      .selectFrom('events')
      .select('record_id')
      .where('batch_id', 'is', null)
      .execute();
    expect(unbatched.length).toBe(at === 'after-ack' ? 7 : 0);
  } finally {
    await storage.close();
  }
}
