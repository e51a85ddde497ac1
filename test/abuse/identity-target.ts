/**
 * The service the identity attacks (scan sabotage, spoofed merchants, personal data) are replayed
 * against: a real `proofmark serve` child on its own SQLite database and embedded development chain,
 * reached over real sockets, with one verified merchant to act as.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admitMerchant } from '../../src/client/admit.ts';
import type { ApiClient } from '../../src/client/client.ts';
import { openStorage } from '../../src/storage/sql/open.ts';
import { everyRowAsText } from '../helpers/db-inspect.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { freePort } from '../helpers/net.ts';
import { recordBody } from '../helpers/records.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';

export const ADMIN_TOKEN = 'abuse-admin-token-0123456789abcdef';

export interface IdentityTarget {
  serve: ServeProcess;
  dataDir: string;
  admin: ApiClient;
  shop: { id: string; apiKey: string; client: ApiClient };
  /** Registers records by external id (the shop's own), returning their ids in order. */
  register(...externalIds: string[]): Promise<string[]>;
  /** Stops the process, then every row of the database it left, as text. */
  stopAndReadDatabase(): Promise<string>;
  close(): Promise<void>;
}

export async function startIdentityTarget(env: Record<string, string> = {}): Promise<IdentityTarget> {
  const dataDir = mkdtempSync(join(tmpdir(), 'proofmark-abuse-'));
  const serve = await spawnServe(
    {
      DATA_DIR: dataDir,
      DEV_CHAIN_PORT: String(await freePort()),
      ADMIN_TOKEN,
      BATCH_MAX_AGE_MS: '3600000',
      CHAIN_POLL_MS: '100',
      ...env,
    },
    'abuse target',
  );
  const admin = serve.client(ADMIN_TOKEN);
  const shop = await admitMerchant(admin, { name: '正规卡盟 Honest Cards' }, TEST_EVIDENCE);
  const shopClient = serve.client(shop.apiKey);
  return {
    serve,
    dataDir,
    admin,
    shop: { id: shop.id, apiKey: shop.apiKey, client: shopClient },
    async register(...externalIds) {
      const { records } = await shopClient.registerRecords(externalIds.map((e) => recordBody(e)));
      return records.map((r) => r.id);
    },
    async stopAndReadDatabase() {
      await serve.stop();
      const storage = await openStorage({ dataDir });
      try {
        return await everyRowAsText(storage.db);
      } finally {
        await storage.close();
      }
    },
    async close() {
      await serve.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
